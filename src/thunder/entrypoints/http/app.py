"""FastAPI app factory: assembles the rooms of http/. The container is built at the edge and
handed in; nothing loads at import.

No `from __future__ import annotations` here: FastAPI reads the annotations at runtime.
"""

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
    from thunder.app.container import Container
from thunder.entrypoints.http import access_log
from thunder.entrypoints.http.access_log import AccessLog
from thunder.entrypoints.http.admin import admin_router
from thunder.entrypoints.http.environment import ServingEnv
from thunder.entrypoints.http.errors import add_error_handlers
from thunder.entrypoints.http.metrics import Metrics
from thunder.entrypoints.http.middleware import BodyLimit
from thunder.entrypoints.http.model_slot import ModelSlot
from thunder.entrypoints.http.predict import predict_router
from thunder.entrypoints.http.schemas import ErrorResponse
from thunder.entrypoints.http.security import SecurityHeaders, api_keys
from thunder.entrypoints.http.status import status_router


def create_app(container: "Container", env: ServingEnv | None = None) -> FastAPI:
    """The app over `container`; `env` defaults to this process's environment, read now."""
    env = env if env is not None else ServingEnv.read()
    serving = container.settings().serving_config
    keys = api_keys(serving.api_keys, env.api_keys)
    metrics = Metrics(env.multiprocess)
    # the model loaded once per process at start-up; a reload loads the current version afresh
    slot = ModelSlot(container.served_model, lambda: container.load_model()(), metrics)
    app = FastAPI(
        title="thunder",
        version="0.1.0",
        lifespan=_lifespan(slot, metrics),
        responses={422: {"model": ErrorResponse}, 413: {"model": ErrorResponse}},
        # /docs is served by status_router with its own Content-Security-Policy; no ReDoc
        docs_url=None,
        redoc_url=None,
    )
    metrics.instrument(app)
    app.add_middleware(BodyLimit, max_bytes=serving.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # outside BodyLimit, so its 413 has the headers too
    access_log.configure()
    app.add_middleware(AccessLog)  # added last, so it runs first and times everything
    app.include_router(status_router(slot, started=time.time()))
    app.include_router(predict_router(slot, metrics, serving, keys))
    app.include_router(admin_router(slot, env))
    add_error_handlers(app)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` worker processes: config from $THUNDER_CONFIG."""
    from thunder.entrypoints.bootstrap import bootstrap

    return create_app(bootstrap())


def _lifespan(
    slot: ModelSlot, metrics: Metrics
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with slot.serving():
                yield
        finally:
            metrics.close()

    return lifespan
