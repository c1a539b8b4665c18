"""FastAPI app factory. The container is built at the edge and handed in; nothing loads at import.

No `from __future__ import annotations` here: FastAPI reads the annotations at runtime.
"""

import asyncio
import gc
import hmac
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, multiprocess
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thunder.app.serving import Forecast, Forecasts, NonFiniteForecast
from thunder.domain.errors import ArtifactError, InvalidHistory, ThunderError
from thunder.entrypoints.http import access_log
from thunder.entrypoints.http.access_log import AccessLog
from thunder.entrypoints.http.schemas import (
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    PredictRequest,
    PredictResponse,
)
from thunder.entrypoints.http.security import SecurityHeaders, api_keys, require_api_key, swagger_ui

ADMIN_TOKEN_ENV = "THUNDER_ADMIN_TOKEN"
SUPERVISOR_ENV = "THUNDER_SUPERVISOR_PID"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
FASTAPI_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's 400 detail
NOT_JSON = (
    "request body is not valid JSON (bytes that are not UTF-8, nesting too deep, "
    "or an integer over 4300 digits)"
)
reload_log = logging.getLogger("uvicorn.error")  # uvicorn prints it, as it prints its own events


def create_app(container: Any) -> FastAPI:
    started = time.time()
    serving = container.settings().serving_config
    admin_token = os.environ.get(ADMIN_TOKEN_ENV, "")
    keys = api_keys(serving.api_keys)
    # with keys, the forecast routes need one (and their OpenAPI entries say so); else open
    forecast_auth = [Depends(require_api_key(keys))] if keys else []
    forecast_errors: dict[int | str, dict[str, Any]] = (
        {401: {"model": ErrorResponse}} if keys else {}
    )
    # set by `serve --workers N`: the uvicorn supervisor, whose SIGHUP rolls every worker
    supervisor = int(os.environ.get(SUPERVISOR_ENV, "0") or 0)
    swap = threading.Lock()

    def serve_model(predictor: Forecast) -> None:
        """Swap in a loaded, warmed-up model: one attribute store, so each request sees either
        the old model or the new one, never a mix (a handler reads it once)."""
        previous: Forecast | None = getattr(app.state, "predictor", None)
        app.state.predictor = predictor
        if previous is not None:
            if MULTIPROC_ENV in os.environ:  # no clear() in multiprocess mode: zero it instead
                model_info.labels(*_info_labels(previous)).set(0)
            else:
                model_info.clear()
        model_info.labels(*_info_labels(predictor)).set(1)
        if getattr(app.state, "settle_heap", False):
            _settle_heap()

    def load_model() -> Forecast:
        predictor: Forecast = container.load_model()()
        predictor.warm_up()
        return predictor

    def reload_on_hup() -> None:
        try:
            with swap:
                serve_model(load_model())
            reload_log.info(
                "SIGHUP: now serving the model trained at %s", app.state.predictor.card.trained_at
            )
        except ThunderError as e:  # keep serving the old model; say why
            reload_log.error("SIGHUP: reload failed, still serving the old model: %s", e.message)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        predictor = container.predictor()  # loaded once per process
        predictor.warm_up()
        # a real server runs its loop in the main thread, an in-thread test client does not:
        # only a server freezes its heap, and signals reach the main thread only
        on_hup = app.state.settle_heap = threading.current_thread() is threading.main_thread()
        serve_model(predictor)
        loop = asyncio.get_running_loop()
        if on_hup:
            loop.add_signal_handler(
                signal.SIGHUP, lambda: loop.run_in_executor(None, reload_on_hup)
            )
        try:
            yield
        finally:
            if on_hup:
                loop.remove_signal_handler(signal.SIGHUP)
            if MULTIPROC_ENV in os.environ:  # drop this worker's live gauges from /metrics
                multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    app = FastAPI(
        title="thunder",
        version="0.1.0",
        lifespan=lifespan,
        responses={422: {"model": ErrorResponse}, 413: {"model": ErrorResponse}},
        # /docs is served below with its own Content-Security-Policy; no ReDoc: one docs page,
        # one relaxed policy (ReDoc would need fonts, web workers and another CDN admitted)
        docs_url=None,
        redoc_url=None,
    )
    # one registry per app: several apps in one process (tests) must not share counters
    registry = CollectorRegistry()
    predictions = Counter(
        "thunder_predictions", "Series forecast, by endpoint.", ["endpoint"], registry=registry
    )
    model_info = Gauge(
        "thunder_model_info",
        "The model being served (1 for its labels).",
        ["trained_at", "data_sha256"],
        registry=registry,
        multiprocess_mode="livemax",
    )
    Instrumentator(registry=registry, excluded_handlers=["/metrics"]).instrument(app).expose(
        app, endpoint="/metrics", include_in_schema=False
    )

    app.add_middleware(BodyLimit, max_bytes=serving.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # outside BodyLimit, so its 413 has the headers too
    access_log.configure()
    app.add_middleware(AccessLog)  # added last, so it runs first and times everything

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return swagger_ui(f"{root}{app.openapi_url}", f"{app.title} - Swagger UI")

    @app.get("/")
    def health(request: Request) -> dict[str, Any]:
        predictor: Forecast = request.app.state.predictor
        return {
            "status": "ok",
            "model": {
                **predictor.card.as_dict(),
                "artifact_version": predictor.version,
                "model_file": predictor.model_file,  # model.onnx: served on onnxruntime
            },
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

    @app.post(
        "/predict",
        response_model=PredictResponse,
        dependencies=forecast_auth,
        responses=forecast_errors,
    )
    async def predict(body: PredictRequest, request: Request) -> dict[str, Any]:
        """One window, ~2 ms of model time: run on the event loop, as a hop to the thread pool
        and back costs about as much again (the batch endpoint, up to 1000 windows, does hop)."""
        predictor: Forecast = request.app.state.predictor
        (rows,) = _json_rows(predictor, predictor.batch([body.history()]), "data")
        predictions.labels("predict").inc()
        return {"predictions": rows}

    @app.post(
        "/predict/batch",
        response_model=BatchResponse,
        dependencies=forecast_auth,
        responses=forecast_errors,
    )
    def predict_batch(body: BatchRequest, request: Request) -> Response:
        """Every series in one vectorised forward pass. The answer is rendered here with orjson
        rather than checked against BatchResponse and rendered by FastAPI: for 1000 series
        that took ~20 ms of a ~150 ms request (the shape is fixed by Forecasts.as_json, and the
        schema tests check it)."""
        if len(body.series) > serving.max_series_per_request:
            raise InvalidHistory(
                f"at most {serving.max_series_per_request} series per request, got {len(body.series)}",
                field="series",
            )
        predictor: Forecast = request.app.state.predictor
        forecasts = _json_rows(
            predictor, predictor.batch([s.history() for s in body.series]), "series[{}].data"
        )
        predictions.labels("predict_batch").inc(len(forecasts))
        answer = [
            {"id": s.id, "predictions": rows}
            for s, rows in zip(body.series, forecasts, strict=True)
        ]
        return Response(orjson.dumps({"forecasts": answer}), media_type="application/json")

    @app.post(
        "/admin/reload",
        responses={
            202: {"description": "rolling restart of the workers started"},
            401: {"model": ErrorResponse},
            404: {"model": ErrorResponse},
            409: {"model": ErrorResponse},
        },
    )
    def reload(request: Request) -> Any:
        """Load the artifacts again and swap them in; in-flight requests finish on the old model.

        Needs `Authorization: Bearer $THUNDER_ADMIN_TOKEN`; without that variable the endpoint
        does not exist (404). With several workers the new artifacts are checked here, then the
        uvicorn supervisor replaces the workers one by one (each new one ready before an old one
        stops), so the answer is 202."""
        if not admin_token:
            return _error(
                404, "not_found", f"admin endpoints are off (set {ADMIN_TOKEN_ENV})", None
            )
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {admin_token}".encode()):
            response = _error(401, "unauthorized", "a valid bearer token is required", None)
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        old: Forecast = request.app.state.predictor
        try:
            with swap:
                new = load_model()
                if not supervisor:
                    serve_model(new)
        except ThunderError as e:
            return _error(
                409,
                "reload_failed",
                f"{e.message}; still serving the model trained at {old.card.trained_at}",
                e.field,
            )
        summary = {"trained_at": new.card.trained_at, "data_sha256": new.card.data.get("sha256")}
        if supervisor:
            os.kill(supervisor, signal.SIGHUP)
            return JSONResponse(status_code=202, content={"status": "restarting", "model": summary})
        return {"status": "reloaded", "model": summary}

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == FASTAPI_PARSE_ERROR:
            # json.loads failed with something other than a JSONDecodeError: bytes that are not
            # UTF-8, or nesting deep enough for a RecursionError. Still not JSON: same answer.
            return _error(422, "invalid_json", NOT_JSON, None)
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        response = _error(exc.status_code, code, str(exc.detail), None)
        response.headers.update(exc.headers or {})  # 405's `Allow` (RFC 9110)
        return response

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
    from thunder.entrypoints.bootstrap import bootstrap

    return create_app(bootstrap())


def _settle_heap() -> None:
    """Collect, then move everything alive (torch, the model, the app) out of the garbage
    collector's walks: a body of 350,000 small containers triggers several full collections,
    each walking the whole heap (1 MiB of `[]` rows took 1.2 s to refuse, 0.1 s frozen).
    Unfreezing first lets a model replaced by a reload be collected."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _info_labels(predictor: Forecast) -> tuple[str, str]:
    return predictor.card.trained_at, str(predictor.card.data.get("sha256", ""))


def _json_rows(predictor: Forecast, out: Forecasts, field: str) -> list[list[dict[str, Any]]]:
    """`field` names the series' history in an error, with {} for its position in a batch."""
    try:
        return out.as_json(predictor.card.columns.time or "timestamp")
    except NonFiniteForecast as e:
        raise InvalidHistory(e.message, field=field.format(e.series)) from None


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
