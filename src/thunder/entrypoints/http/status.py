"""What the server says about itself: GET / (the model card), /healthz and /readyz (the
probes), and /docs (Swagger UI).

No `from __future__ import annotations` here: FastAPI reads the annotations at runtime.
"""

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from thunder.entrypoints.http.errors import error_response
from thunder.entrypoints.http.model_slot import ModelSlot
from thunder.entrypoints.http.schemas import ErrorResponse
from thunder.entrypoints.http.security import swagger_ui


def status_router(slot: ModelSlot, started: float) -> APIRouter:
    router = APIRouter()

    # /docs has its own Content-Security-Policy; no ReDoc: one docs page, one relaxed policy
    @router.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        app = request.app
        root = request.scope.get("root_path", "").rstrip("/")
        return swagger_ui(f"{root}{app.openapi_url}", f"{app.title} - Swagger UI")

    @router.get("/")
    def health() -> dict[str, Any]:
        model = slot.current()
        return {
            "status": "ok",
            "model": {
                **model.card.as_dict(),
                "artifact_version": model.version,
                "model_file": model.model_file,  # model.onnx: served on onnxruntime
            },
            "uptime_s": round(time.time() - started, 3),
        }

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is alive (it may still be loading)."""
        return {"status": "alive"}

    @router.get("/readyz", responses={503: {"model": ErrorResponse}})
    def readyz() -> Any:
        """The model is loaded and a warm-up forward pass has run."""
        model = slot.model
        if model is None or not model.warmed_up:
            return error_response(503, "not_ready", "the model is not loaded yet", None)
        return {"status": "ready"}

    return router
