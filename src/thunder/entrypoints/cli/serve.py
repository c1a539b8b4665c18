"""`thunder serve`: the model over HTTP, FastAPI on uvicorn."""

import os
import shutil
import tempfile

import click

from thunder.entrypoints.cli.options import config_option, container_for


@click.command()
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
    container = container_for(ctx, config)
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
