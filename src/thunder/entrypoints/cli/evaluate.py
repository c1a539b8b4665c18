"""`thunder evaluate`: score the current model on any file and write a report."""

import sys

import click

from thunder.entrypoints.cli.formatting import metrics_table, report_line
from thunder.entrypoints.cli.options import config_option, container_for, input_option


@click.command()
@input_option("CSV (or Parquet, compressed CSV) with the columns the model was trained on.")
@config_option
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="report folder, replaced whole (default: reports/<input name>/ beside the model)",
)
@click.option(
    "--size", type=click.IntRange(min=1), default=10_000, show_default=True, help="Rows per chunk."
)
@click.pass_context
def evaluate(
    ctx: click.Context, input_path: str, config: str | None, out: str | None, size: int
) -> None:
    """Score the current model on INPUT (every window) next to the naive baselines, per target
    and horizon step; write metrics.json, PNG figures and a self-contained index.html."""
    container = container_for(ctx, config)
    source = container.chunk_source(path=input_path, chunk_size=size)
    done = container.evaluate_model()(source, out, progress=sys.stderr.isatty())
    ev = done.report.evaluation.as_dict()
    season = ev["season_length"]
    click.echo(
        f"evaluated version {done.report.version} on {input_path}: {ev['windows']} windows; "
        "baselines on the same windows: naive = last value"
        + (f", seasonal = the last {season} rows repeated" if season else "")
    )
    for line in metrics_table(ev["model"], ev["baselines"], ev.get("coverage", {})):
        click.echo(line)
    for target, steps in ev["by_step"]["model"].items():
        maes = steps["mae"]
        click.echo(
            f"{target} MAE by horizon step: {maes[0]:.4f} (step 1) .. {maes[-1]:.4f} "
            f"(step {len(maes)})"
        )
    click.echo(report_line("report", done.directory, done.plots))
