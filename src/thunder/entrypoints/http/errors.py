"""Every error answers the same JSON body, {"error": {"code", "message", "field"}}: the
exception handlers that map thunder's errors and FastAPI's own onto it (see STYLE.md, Errors)."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from thunder.domain.errors import ArtifactError, InvalidHistory, ThunderError

FASTAPI_PARSE_ERROR = "There was an error parsing the body"  # FastAPI's 400 detail
NOT_JSON = (
    "request body is not valid JSON (bytes that are not UTF-8, nesting too deep, "
    "or an integer over 4300 digits)"
)


def error_response(status: int, code: str, message: str, field: str | None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(status_code=status, content=body)


def add_error_handlers(app: FastAPI) -> None:
    """A handler is found by the exception's class (its nearest base), not by the order here."""
    app.exception_handler(StarletteHTTPException)(http_error)
    app.exception_handler(RequestValidationError)(invalid_body)
    app.exception_handler(InvalidHistory)(invalid_history)
    app.exception_handler(ArtifactError)(no_model)
    app.exception_handler(ThunderError)(thunder_error)


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400 and exc.detail == FASTAPI_PARSE_ERROR:
        # json.loads failed with something other than a JSONDecodeError: bytes that are not
        # UTF-8, or nesting deep enough for a RecursionError. Still not JSON: same answer.
        return error_response(422, "invalid_json", NOT_JSON, None)
    code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "http_error"
    )
    response = error_response(exc.status_code, code, str(exc.detail), None)
    response.headers.update(exc.headers or {})  # 405's `Allow` (RFC 9110)
    return response


async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(loc) or None
    msg = str(first.get("msg", "invalid request body")).removeprefix("Value error, ")
    if first.get("type") == "json_invalid":
        return error_response(422, "invalid_json", f"request body is not valid JSON ({msg})", None)
    return error_response(422, "invalid_body", f"{field}: {msg}" if field else msg, field)


async def invalid_history(request: Request, exc: InvalidHistory) -> JSONResponse:
    return error_response(422, exc.code, exc.message, exc.field)


async def no_model(request: Request, exc: ArtifactError) -> JSONResponse:
    return error_response(503, exc.code, exc.message, exc.field)


async def thunder_error(request: Request, exc: ThunderError) -> JSONResponse:
    return error_response(422, exc.code, exc.message, exc.field)
