"""`thunder serve`: the model over HTTP, FastAPI on uvicorn."""

import os
import shutil
import tempfile
from typing import Any

import click

from thunder.domain.threads import threads_per_process
from thunder.entrypoints.cli.options import config_option, container_for

BACKEND_ENV = "THUNDER_SERVING_CONFIG__BACKEND"  # serving_config.backend, as settings read it


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
    container = container_for(ctx, config)
    if backend is not None:
        settings = container.settings()
        serving = settings.serving_config.model_copy(update={"backend": backend})
        container.settings.override(settings.model_copy(update={"serving_config": serving}))
    container.served_model()  # load now: a missing or corrupt artifact fails here, in one line
    if workers == 1:
        _serve_here(container, host, port)
    else:
        _serve_in_workers(config, backend, host, port, workers)


def _serve_here(container: Any, host: str, port: int) -> None:
    """One process: the app over the container already loaded."""
    import uvicorn

    from thunder.entrypoints.http.app import create_app
    from thunder.entrypoints.http.tcp import NoDelayHttpToolsProtocol

    uvicorn.run(
        create_app(container),
        host=host,
        port=port,
        access_log=False,  # thunder.access writes one JSON line per request instead
        http=NoDelayHttpToolsProtocol,
        server_header=False,  # no `server: uvicorn` banner
    )


def _serve_in_workers(
    config: str | None, backend: str | None, host: str, port: int, workers: int
) -> None:
    """N worker processes under uvicorn's supervisor (this process). uvicorn starts each worker
    by import string (app_from_env, which bootstraps its own container), so what this command
    decided reaches the workers through the environment they inherit, and only them."""
    import uvicorn

    from thunder.app.settings import CONFIG_ENV
    from thunder.entrypoints.http.environment import MULTIPROC_ENV, SUPERVISOR_ENV
    from thunder.entrypoints.http.tcp import NoDelayHttpToolsProtocol

    if config:  # each worker builds its own container from the same config
        os.environ[CONFIG_ENV] = config
    if backend is not None:  # ... and the same backend
        os.environ[BACKEND_ENV] = backend
    # N workers share the cores: without this each one runs torch on every core and they thrash
    os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_process(workers)))
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
