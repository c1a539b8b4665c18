"""uvicorn's HTTP protocol with TCP_NODELAY on every connection.

With `--workers N`, uvicorn binds the listening socket as `socket.socket(family)` (proto 0), and
asyncio only sets TCP_NODELAY on sockets whose proto is IPPROTO_TCP. Without it, each response on
a kept-alive connection (nginx's upstream keepalive, any HTTP client pool) waits for the peer's
delayed ACK: measured here, 44 ms per request instead of 2.7 ms.
"""

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """httptools (C) parses HTTP several times faster than h11 (pure Python)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
