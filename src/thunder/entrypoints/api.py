"""FastAPI app factory. The container is built at the edge and handed in; nothing loads at import.

No `from __future__ import annotations` here: FastAPI reads the annotations at runtime.
"""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Info
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thunder.app.predict import Forecast
from thunder.domain.errors import ArtifactError, InvalidHistory, ThunderError
from thunder.domain.values import ForecastRow
from thunder.entrypoints import access_log
from thunder.entrypoints.access_log import AccessLog
from thunder.entrypoints.schemas import (
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    PredictRequest,
    PredictResponse,
)


def create_app(container: Any) -> FastAPI:
    started = time.time()
    serving = container.settings().serving_config

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        predictor = container.predictor()  # loaded once per process
        predictor.warm_up()
        app.state.predictor = predictor
        model_info.info(
            {
                "trained_at": predictor.card.trained_at,
                "data_sha256": str(predictor.card.data.get("sha256", "")),
            }
        )
        yield

    app = FastAPI(
        title="thunder",
        version="0.1.0",
        lifespan=lifespan,
        responses={422: {"model": ErrorResponse}, 413: {"model": ErrorResponse}},
    )
    # one registry per app: several apps in one process (tests) must not share counters
    registry = CollectorRegistry()
    predictions = Counter(
        "thunder_predictions", "Series forecast, by endpoint.", ["endpoint"], registry=registry
    )
    model_info = Info("thunder_model", "The model being served.", registry=registry)
    Instrumentator(registry=registry, excluded_handlers=["/metrics"]).instrument(app).expose(
        app, endpoint="/metrics", include_in_schema=False
    )

    app.add_middleware(BodyLimit, max_bytes=serving.max_body_bytes)
    access_log.configure()
    app.add_middleware(AccessLog)  # added last, so it runs first and times everything

    @app.get("/")
    def health(request: Request) -> dict[str, Any]:
        predictor: Forecast = request.app.state.predictor
        return {
            "status": "ok",
            "model": predictor.card.as_dict(),
            "uptime_s": round(time.time() - started, 3),
        }

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is alive (it may still be loading)."""
        return {"status": "alive"}

    @app.get("/readyz", responses={503: {"model": ErrorResponse}})
    def readyz(request: Request) -> Any:
        """The model is loaded and a warm-up forward pass has run."""
        predictor: Forecast | None = getattr(request.app.state, "predictor", None)
        if predictor is None or not predictor.warmed_up:
            return _error(503, "not_ready", "the model is not loaded yet", None)
        return {"status": "ready"}

    @app.post("/predict", response_model=PredictResponse)
    def predict(body: PredictRequest, request: Request) -> dict[str, Any]:
        predictor: Forecast = request.app.state.predictor
        rows = _rows(predictor, predictor(body.records()))
        predictions.labels("predict").inc()
        return {"predictions": rows}

    @app.post("/predict/batch", response_model=BatchResponse)
    def predict_batch(body: BatchRequest, request: Request) -> dict[str, Any]:
        """Every series in one vectorised forward pass."""
        if len(body.series) > serving.max_series_per_request:
            raise InvalidHistory(
                f"at most {serving.max_series_per_request} series per request, got {len(body.series)}",
                field="series",
            )
        predictor: Forecast = request.app.state.predictor
        forecasts = predictor.many([s.records() for s in body.series])
        predictions.labels("predict_batch").inc(len(forecasts))
        return {
            "forecasts": [
                {"id": s.id, "predictions": _rows(predictor, rows)}
                for s, rows in zip(body.series, forecasts, strict=True)
            ]
        }

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        field = ".".join(loc) or None
        msg = str(first.get("msg", "invalid request body")).removeprefix("Value error, ")
        if first.get("type") == "json_invalid":
            return _error(422, "invalid_json", f"request body is not valid JSON ({msg})", None)
        return _error(422, "invalid_body", f"{field}: {msg}" if field else msg, field)

    @app.exception_handler(InvalidHistory)
    async def invalid_history(request: Request, exc: InvalidHistory) -> JSONResponse:
        return _error(422, exc.code, exc.message, exc.field)

    @app.exception_handler(ArtifactError)
    async def no_model(request: Request, exc: ArtifactError) -> JSONResponse:
        return _error(503, exc.code, exc.message, exc.field)

    @app.exception_handler(ThunderError)
    async def thunder_error(request: Request, exc: ThunderError) -> JSONResponse:
        return _error(422, exc.code, exc.message, exc.field)

    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` worker processes: config from $THUNDER_CONFIG."""
    from thunder.app.container import Container
    from thunder.app.settings import load_settings

    container = Container()
    container.settings.override(load_settings())
    return create_app(container)


def _rows(predictor: Forecast, rows: list[ForecastRow]) -> list[dict[str, Any]]:
    time_key = predictor.card.columns.time or "timestamp"
    out = []
    for row in rows:
        item: dict[str, Any] = {"step": row.step}
        if row.timestamp is not None:
            item[time_key] = row.timestamp
        item.update(row.values)
        out.append(item)
    return out


def _error(status: int, code: str, message: str, field: str | None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(status_code=status, content=body)


class BodyLimit:
    """Rejects bodies over `max_bytes` with 413 before they are parsed, declared length or not."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        # Read the (bounded) body here, so a chunked upload without a length is capped too.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _error(413, "body_too_large", f"request body over {self.max_bytes} bytes", None)
        await response(scope, receive, send)
