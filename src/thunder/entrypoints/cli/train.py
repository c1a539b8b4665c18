"""`thunder chunk` and `thunder tune`: train on a file read in chunks, or search for a config."""

import json
import signal
import sys
from pathlib import Path

import click

from thunder.app.report import RunReport
from thunder.domain.errors import PeerStopped
from thunder.entrypoints.cli.formatting import format_summary
from thunder.entrypoints.cli.group import UserError
from thunder.entrypoints.cli.options import config_option, container_for, input_option, size_option

FIND_LR_ALONE = (
    "chunk --find-lr runs in one process: find the rate without ddp, then set "
    "model_config.learning_rate"
)
FIND_BATCH_ALONE = (
    "chunk --find-batch-size runs in one process (Lightning's finder does not run under ddp): "
    "find the size on one device, then set split_config.batch_size"
)


@click.command()
@input_option("CSV file with a header row.")
@size_option
@config_option
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the run summary as JSON here.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run (same data and config) from its last epoch checkpoint.",
)
@click.option(
    "--find-lr",
    is_flag=True,
    help="Run Lightning's learning-rate range test first (100 steps) and train with its "
    "suggestion instead of model_config.learning_rate.",
)
@click.option(
    "--find-batch-size",
    is_flag=True,
    help="Run Lightning's batch-size finder first (on a GPU: the batch doubles until it no "
    "longer fits in memory) and train with the largest size that fit.",
)
@click.option(
    "--init-from",
    metavar="VERSION|PATH",
    default=None,
    help="Start from the weights of a published model (a version `thunder versions` lists, "
    "or a model file with its card beside it) instead of fresh ones: fine-tune on INPUT. Same "
    "network, columns and window.",
)
@click.option(
    "--keep-scaler",
    is_flag=True,
    help="With --init-from: keep that model's fitted scaler instead of refitting one on INPUT.",
)
@click.pass_context
def chunk(
    ctx: click.Context,
    input_path: str,
    size: int,
    config: str | None,
    report_path: str | None,
    resume: bool,
    find_lr: bool,
    find_batch_size: bool,
    init_from: str | None,
    keep_scaler: bool,
) -> None:
    """Train on INPUT read in chunks of SIZE rows; write model, preprocessor and model card."""
    container = container_for(ctx, config)
    container.check_before_training()(
        [("--report", Path(report_path).parent)] if report_path else []
    )
    cluster = container.cluster()
    alone = FIND_LR_ALONE if find_lr else FIND_BATCH_ALONE if find_batch_size else None
    if container.launch_ranks(command=_relaunch(ctx), one_process_only=alone):
        return  # the ranks it started have trained, published and printed the summary
    main_rank = cluster.rank == 0
    source = container.chunk_source(path=input_path, chunk_size=size)
    try:
        report = container.train_from_chunks()(
            source,
            resume=resume,
            find_lr=find_lr,
            progress=sys.stderr.isatty() and main_rank,
            init_from=init_from,
            keep_scaler=keep_scaler,
            find_batch_size=find_batch_size,
        )
    except PeerStopped:
        # rank 0 has printed why and exits 1 itself: the run fails as rank 0's failure; were
        # this rank to exit 1 first, the launcher would stop rank 0 and blame this one
        sys.exit(0)
    except KeyboardInterrupt:
        # once is enough: under a launcher a Ctrl+C arrives twice (the terminal's, then the one
        # the launcher passes on), and a second one would cut the message short with a traceback
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if not main_rank:  # it reaches every rank; rank 0 says it once
            sys.exit(130)
        raise
    if main_rank:
        click.echo(format_summary(report))
        if report_path:
            _write_report(report, report_path)


def _relaunch(ctx: click.Context) -> list[str]:
    """What each rank of a distributed run executes (after the Python interpreter): this very
    command, so every rank parses the same options."""
    params = ctx.params
    argv = ["chunk", "--input", params["input_path"], "--size", str(params["size"])]
    argv += ["--config", params["config"]] if params["config"] else []
    argv += ["--resume"] if params["resume"] else []
    argv += ["--init-from", params["init_from"]] if params["init_from"] else []
    argv += ["--keep-scaler"] if params["keep_scaler"] else []
    argv += ["--report", params["report_path"]] if params["report_path"] else []
    return ["-m", "thunder", *argv]


def _write_report(report: RunReport, path: str) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    except OSError as e:
        raise UserError(f"{path}: cannot write the report ({e.strerror})") from None
    click.echo(f"report: {path}")


@click.command()
@input_option("CSV file with a header row (the data `chunk` will train on).")
@size_option
@config_option
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Finished trials the study should have; a rerun of a stored study counts its own.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds after which no new trial starts (the running one finishes).",
)
@click.option("--study", default="thunder", show_default=True, help="Study name in the storage.")
@click.option(
    "--storage",
    default=None,
    help="Optuna storage URL (default: sqlite:///<model dir>/tune.db); rerun to resume.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="The best config, ready for `chunk` (default: config.tuned.json beside the config).",
)
@click.pass_context
def tune(
    ctx: click.Context,
    input_path: str,
    size: int,
    config: str | None,
    trials: int,
    timeout: float | None,
    study: str,
    storage: str | None,
    output: str | None,
) -> None:
    """Search hyper-parameters with Optuna: each trial trains as `chunk` does and is scored by
    its val loss; bad trials are pruned early. Writes the best config as JSON."""
    from thunder.app.paths import tuned_config
    from thunder.app.settings import config_path as settings_path
    from thunder.entrypoints.cli.tune_table import format_trials

    container = container_for(ctx, config)
    output = output or tuned_config(settings_path(config))
    container.check_before_training()([("--output", Path(output).parent)])
    source = container.chunk_source(path=input_path, chunk_size=size)
    tuned = container.tune_hyperparameters()(
        source,
        trials=trials,
        timeout=timeout,
        study=study,
        storage=storage,
        output=output,
        progress=sys.stderr.isatty(),
    )
    click.echo(format_trials(tuned))
