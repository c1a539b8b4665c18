"""API keys for the forecast endpoints, and the security headers on every response.

No `from __future__ import annotations` here: FastAPI reads the dependency's annotations.
"""

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import HTTPException, Security
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thunder.domain.errors import ConfigError
from thunder.entrypoints.http.environment import API_KEYS_ENV

MIN_KEY_LENGTH = 16  # the length check of serving_config.api_keys in settings.py, for the env
NEED_KEY = "a valid API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"

# The API answers JSON only: nothing in it may load, run, frame or submit anything.
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# Swagger UI (/docs) loads its script and stylesheet from jsDelivr and FastAPI's favicon
SWAGGER_CDN = "https://cdn.jsdelivr.net"
FAVICON_ORIGIN = "https://fastapi.tiangolo.com"

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <API key>")


def api_keys(configured: Sequence[str], raw: str) -> list[str]:
    """The keys in force: `raw`, $THUNDER_API_KEYS (comma-separated), when not blank, else
    serving_config.api_keys. None: the forecast endpoints are open."""
    if not raw.strip():
        return list(configured)
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    short = sum(len(k) < MIN_KEY_LENGTH for k in keys)
    if short:
        raise ConfigError(
            f"{API_KEYS_ENV}: {short} key(s) shorter than {MIN_KEY_LENGTH} characters "
            f"(make one with: openssl rand -hex 32)"
        )
    return keys


def require_api_key(keys: Sequence[str]) -> Callable[..., None]:
    """A FastAPI dependency that lets a request through only with one of `keys`.

    Each key is compared in constant time (hmac.compare_digest over SHA-256 digests, so the key
    lengths do not show either), against every key without stopping at a match."""
    digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    def check(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        header: Annotated[str | None, Security(_header)],
    ) -> None:
        given = [g for g in (bearer.credentials if bearer else None, header) if g]
        if not any([_matches(g, digests) for g in given]):
            raise HTTPException(401, NEED_KEY, headers={"WWW-Authenticate": "Bearer"})

    return check


def _matches(given: str, digests: Sequence[bytes]) -> bool:
    mine = hashlib.sha256(given.encode()).digest()
    found = False
    for digest in digests:
        found |= hmac.compare_digest(mine, digest)
    return found


def swagger_ui(openapi_url: str, title: str) -> HTMLResponse:
    """FastAPI's Swagger UI page, with a policy that admits what it loads and nothing else:
    its CDN script and stylesheet, its one inline script (by hash), the favicon, and fetches
    to this API. Styles may be inline because Swagger UI sets style attributes as it renders."""
    page = get_swagger_ui_html(openapi_url=openapi_url, title=title)
    inline = re.findall(rb"<script>(.*?)</script>", bytes(page.body), flags=re.S)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in inline
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src {SWAGGER_CDN} {hashes}; "
        f"style-src {SWAGGER_CDN} 'unsafe-inline'; img-src 'self' data: {FAVICON_ORIGIN}; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    return page


class SecurityHeaders:
    """Adds HEADERS and a Content-Security-Policy (STRICT_CSP unless the route set its own) to
    every HTTP response, errors from the middleware below it included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = STRICT_CSP
            await send(message)

        await self.app(scope, receive, send_with_headers)
