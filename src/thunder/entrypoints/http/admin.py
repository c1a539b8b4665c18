"""POST /admin/reload, behind a bearer token ($THUNDER_ADMIN_TOKEN; without it, 404).

No `from __future__ import annotations` here: FastAPI reads the annotations at runtime.
"""

import hmac
import os
import signal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from thunder.domain.errors import ThunderError
from thunder.entrypoints.http.environment import ADMIN_TOKEN_ENV, ServingEnv
from thunder.entrypoints.http.errors import error_response
from thunder.entrypoints.http.model_slot import ModelSlot
from thunder.entrypoints.http.schemas import ErrorResponse

RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "rolling restart of the workers started"},
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
}


def admin_router(slot: ModelSlot, env: ServingEnv) -> APIRouter:
    router = APIRouter()

    @router.post("/admin/reload", responses=RESPONSES)
    def reload(request: Request) -> Any:
        """Load the artifacts again and swap them in; in-flight requests finish on the old model.

        Needs `Authorization: Bearer $THUNDER_ADMIN_TOKEN`; without that variable the endpoint
        does not exist (404). With several workers the new artifacts are checked here, then the
        uvicorn supervisor replaces the workers one by one (each new one ready before an old one
        stops), so the answer is 202."""
        refused = _refused(request, env.admin_token)
        if refused is not None:
            return refused
        old = slot.current()
        try:
            # with a supervisor, each worker loads the new version as it restarts
            new = slot.reload(swap=not env.supervisor)
        except ThunderError as e:
            return error_response(
                409,
                "reload_failed",
                f"{e.message}; still serving the model trained at {old.card.trained_at}",
                e.field,
            )
        summary = {"trained_at": new.card.trained_at, "data_sha256": new.card.data.get("sha256")}
        if env.supervisor:
            os.kill(env.supervisor, signal.SIGHUP)
            return JSONResponse(status_code=202, content={"status": "restarting", "model": summary})
        return {"status": "reloaded", "model": summary}

    return router


def _refused(request: Request, token: str) -> JSONResponse | None:
    """404 while the admin endpoints are off, 401 without the token; None lets it through."""
    if not token:
        return error_response(
            404, "not_found", f"admin endpoints are off (set {ADMIN_TOKEN_ENV})", None
        )
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = error_response(401, "unauthorized", "a valid bearer token is required", None)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return None
