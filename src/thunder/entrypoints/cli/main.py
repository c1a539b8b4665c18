"""`python -m thunder ...`: the click CLI. Every ThunderError ends as one line on stderr, exit 1."""

import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from thunder.domain.errors import PeerStopped, ThunderError

config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="config.json to use (default: $THUNDER_CONFIG, else ./config.json).",
)

size_option = click.option(
    "--size", type=click.IntRange(min=1), required=True, help="Rows read per chunk; bounds memory."
)


def input_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--input", "input_path", required=True, type=click.Path(dir_okay=False), help=help
    )


def _container(ctx: click.Context, config: str | None) -> Any:
    """The container the caller prepared (tests pass one as obj), else a fresh one from config."""
    from thunder.app.settings import load_settings

    if ctx.obj is not None:  # tests pass a prepared container
        if not ctx.obj.settings.overridden:
            ctx.obj.settings.override(load_settings(config))
        return ctx.obj
    settings = load_settings(config)  # first: a bad config fails in a blink, before torch loads
    from thunder.app.container import Container  # imported late: `--help` needs no torch

    container = Container()
    container.settings.override(settings)
    return container


class UserError(click.ClickException):
    """A ThunderError as the CLI shows it: one line, no traceback, exit 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"thunder: error: {self.message}", err=True)


class UsageLine(click.UsageError):
    """A bad option as one line too (click's own adds the usage and a hint on three more)."""

    def __init__(self, error: click.UsageError) -> None:
        super().__init__(error.format_message().rstrip("."), error.ctx)

    def show(self, file: Any = None) -> None:
        where = f" (see '{self.ctx.command_path} --help')" if self.ctx else ""
        click.echo(f"thunder: error: {self.message}{where}", err=True)


def _one_line(e: click.UsageError) -> click.UsageError:
    if isinstance(e, (UsageLine, click.exceptions.NoArgsIsHelpError)):
        return e
    return UsageLine(e)


class ThunderGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as e:
            raise _one_line(e) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as e:  # the subcommand's options are parsed in here
            raise _one_line(e) from None
        except ThunderError as e:
            raise UserError(e.message) from None
        except KeyboardInterrupt:
            raise UserError(
                "interrupted; the previous artifacts are unchanged (chunk --resume continues "
                "from the last finished epoch)"
            ) from None


@click.group(cls=ThunderGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """thunder: train xLSTM forecasters on CSVs larger than memory, and serve them."""


@cli.command()
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
@click.pass_context
def chunk(
    ctx: click.Context,
    input_path: str,
    size: int,
    config: str | None,
    report_path: str | None,
    resume: bool,
    find_lr: bool,
) -> None:
    """Train on INPUT read in chunks of SIZE rows; write model, preprocessor and model card."""
    container = _container(ctx, config)
    report_dir = [("--report", Path(report_path).parent)] if report_path else []
    container.check_outputs(report_dir)
    container.check_extras()
    cluster = container.cluster()
    argv = ["chunk", "--input", input_path, "--size", str(size)]
    argv += [*(["--config", config] if config else []), *(["--resume"] if resume else [])]
    argv += ["--report", report_path] if report_path else []
    if container.launch_ranks(argv=argv, find_lr=find_lr):
        return  # the ranks it started have trained, published and printed the summary
    main_rank = cluster.rank == 0
    container.progress.override(sys.stderr.isatty() and main_rank)
    container.find_lr.override(find_lr)
    container.chunk_rows.override(size)
    source = container.chunk_source(path=input_path)
    try:
        report = container.train_from_chunks()(source, resume=resume)
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
    if not main_rank:
        return
    click.echo(format_summary(report))
    if report_path:
        try:
            Path(report_path).parent.mkdir(parents=True, exist_ok=True)
            Path(report_path).write_text(json.dumps(report, indent=2) + "\n")
        except OSError as e:
            raise UserError(f"{report_path}: cannot write the report ({e.strerror})") from None
        click.echo(f"report: {report_path}")


@cli.command()
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
    container = _container(ctx, config)
    container.progress.override(sys.stderr.isatty())
    container.chunk_rows.override(size)
    done = container.evaluate_model()(container.chunk_source(path=input_path), out)
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
    click.echo(_report_line("report", done.directory, done.plots))


@cli.command()
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
    from thunder.entrypoints.cli.tune_table import format_trials

    container = _container(ctx, config)
    config_path = Path(config or os.environ.get("THUNDER_CONFIG") or "config.json")
    output = output or str(config_path.with_name("config.tuned.json"))
    container.check_outputs([("--output", Path(output).parent)])
    container.check_extras()
    container.progress.override(sys.stderr.isatty())
    container.chunk_rows.override(size)
    source = container.chunk_source(path=input_path)
    tuned = container.tune_hyperparameters()(
        source, trials=trials, timeout=timeout, study=study, storage=storage, output=output
    )
    click.echo(format_trials(tuned))


@cli.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="write the file here only; default: publish it in a new version beside model_path, "
    "for `serve --backend onnx`",
)
@click.option(
    "--quantize",
    type=click.Choice(["int8"]),
    default=None,
    help="int8 weights for the matrix products (onnxruntime dynamic quantisation)",
)
@click.pass_context
def export(
    ctx: click.Context, config: str | None, fmt: str, output: str | None, quantize: str | None
) -> None:
    """Export the current model version (dynamic batch axis, opset 17)."""
    done = _container(ctx, config).export_model()(output, int8=quantize == "int8")
    click.echo(
        f"exported version {done.source} to {fmt.upper()}: {done.path} ({done.size:,} bytes)"
    )
    if done.version is not None:
        click.echo(f"published as version {done.version}: serve it with `serve --backend onnx`")


@cli.command()
@config_option
@click.pass_context
def versions(ctx: click.Context, config: str | None) -> None:
    """List the kept model versions, the current one marked with *."""
    infos = _container(ctx, config).versions().list()
    if not infos:
        raise UserError("no versions yet: train one with `thunder chunk`")
    for info in infos:
        maes = "  ".join(
            f"{target} MAE {m['mae']:.4f}" for target, m in info.test.items() if "mae" in m
        )
        mark = "*" if info.current else " "
        click.echo(f"{mark} {info.version}  trained {info.trained_at}  {maes}".rstrip())


@cli.command()
@click.argument("version")
@config_option
@click.pass_context
def rollback(ctx: click.Context, version: str, config: str | None) -> None:
    """Make VERSION (from `thunder versions`) current again; running servers pick it up on
    reload (POST /admin/reload or SIGHUP)."""
    info = _container(ctx, config).versions().rollback(version)
    click.echo(f"current: {info.version} (trained {info.trained_at})")


@cli.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--backend",
    type=click.Choice(["auto", "torch", "onnx"]),
    default=None,
    help="what runs the model (default: serving_config.backend, else auto: the version's "
    "ONNX export when it has one and onnxruntime is installed, else torch)",
)
@click.pass_context
def serve(
    ctx: click.Context, config: str | None, host: str, port: int, workers: int, backend: str | None
) -> None:
    """Serve the trained model over HTTP (FastAPI on uvicorn)."""
    import uvicorn

    from thunder.entrypoints.http.app import MULTIPROC_ENV, SUPERVISOR_ENV, create_app
    from thunder.entrypoints.http.tcp import NoDelayHttpToolsProtocol

    if backend is not None:  # as a setting: worker processes read it from the environment
        os.environ["THUNDER_SERVING_CONFIG__BACKEND"] = backend
    container = _container(ctx, config)
    if backend is not None:
        settings = container.settings()
        serving = settings.serving_config.model_copy(update={"backend": backend})
        container.settings.override(settings.model_copy(update={"serving_config": serving}))
    container.predictor()  # load now: a missing or corrupt artifact fails here, in one line
    if workers == 1:
        uvicorn.run(
            create_app(container),
            host=host,
            port=port,
            access_log=False,
            http=NoDelayHttpToolsProtocol,
            server_header=False,  # no `server: uvicorn` banner
        )
        return
    if config:  # each worker process builds its own container from the same config
        os.environ["THUNDER_CONFIG"] = config
    # N workers share the cores: without this each one runs torch on every core and they thrash
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    # /admin/reload in a worker asks this process (uvicorn's supervisor) for a rolling restart
    os.environ[SUPERVISOR_ENV] = str(os.getpid())
    # each worker writes its metrics here and /metrics sums them (prometheus multiprocess mode)
    own_dir = MULTIPROC_ENV not in os.environ
    metrics_dir = os.environ.setdefault(MULTIPROC_ENV, tempfile.mkdtemp(prefix="thunder-metrics-"))
    try:
        uvicorn.run(
            "thunder.entrypoints.http.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http=NoDelayHttpToolsProtocol,
            access_log=False,  # thunder.access writes one JSON line per request instead
            server_header=False,  # no `server: uvicorn` banner
            # a rolling restart waits this long for each new worker to load torch and the model
            timeout_worker_healthcheck=120,
        )
    finally:
        if own_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def format_summary(report: dict[str, Any]) -> str:
    data, train, test = report["data"], report["train"], report["test"]
    season = report.get("season_length")
    lines = [
        f"data: {data['rows']} rows (train {data['train_rows']}, val {data['val_rows']}, "
        f"test {data['test_rows']})",
        f"train: {train['epochs']} epoch(s), {train['steps']} steps, {train['wall_s']:.1f} s, "
        f"{train['windows_per_s']:.0f} windows/s, learning rate {train['learning_rate']:.3g}"
        + (" (found by --find-lr)" if train.get("lr_found") else ""),
        f"test: {test['windows']} windows; baselines on the same windows: naive = last value"
        + (f", seasonal = the last {season} rows repeated" if season else ""),
        *metrics_table(test, report["baselines"], report.get("coverage", {})),
    ]
    arts = report.get("artifacts", {})
    if arts:
        lines.append(f"published as version {arts['version']} (`thunder versions` lists them)")
        lines.append(
            f"model: {arts['model']}  preprocessor: {arts['preprocessor']}  card: {arts['card']}"
            + (f"  onnx: {arts['onnx']}" if "onnx" in arts else "")
        )
    if "tracking" in report:
        lines.append(f"mlflow: run {report['tracking']['run']} in {report['tracking']['uri']}")
    if "report" in report:
        lines.append(
            _report_line("test report", report["report"]["dir"], report["report"]["plots"])
        )
    return "\n".join(lines)


def metrics_table(
    model: dict[str, Any], baselines: dict[str, Any], coverage: dict[str, Any]
) -> list[str]:
    """Per target: the model's errors next to the naive and seasonal-naive ones."""
    naive, seasonal = baselines["naive_last"], baselines.get("seasonal_naive", {})
    lines = [
        f"{'target':<14}{'MAE':>9}{'RMSE':>9}{'sMAPE%':>8}{'MASE':>7}{'naive MAE':>11}"
        f"{'seasonal MAE':>14}{'MAE/naive':>11}",
    ]
    for target, stats in naive.items():
        m = model[target]
        ratio = m["mae"] / stats["mae"] if stats["mae"] else float("nan")
        mase = f"{m['mase']:>7.3f}" if "mase" in m else f"{'-':>7}"
        snaive = f"{seasonal[target]['mae']:>14.4f}" if target in seasonal else f"{'-':>14}"
        lines.append(
            f"{target:<14}{m['mae']:>9.4f}{m['rmse']:>9.4f}{m['smape']:>8.2f}{mase}"
            f"{stats['mae']:>11.4f}{snaive}{ratio:>11.3f}"
        )
    for target, shares in coverage.items():
        parts = ", ".join(f"{name} {share:.1%}" for name, share in shares.items())
        lines.append(f"coverage of {target} (share of actuals at or below / inside): {parts}")
    return lines


def _report_line(label: str, directory: str, plots: bool) -> str:
    page = str(Path(directory) / "index.html")
    if plots:
        return f"{label}: {page} (metrics.json and the PNG figures beside it)"
    return f"{label}: {page} (tables only: plots need pip install 'thunder[report]')"


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="thunder")
