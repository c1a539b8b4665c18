"""The real deploy/nginx.conf retries a request whose upstream worker died under it."""

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import running_nginx

pytestmark = pytest.mark.integration


class DyingWorker:
    """An HTTP upstream on 127.0.0.1 whose first `drops` POSTs die unanswered, as a worker that
    is SIGKILLed with the request in flight: the connection is reset after the request arrived.
    Every answer closes its connection, so nginx never reuses one (a failure on a reused
    kept-alive connection is retried by nginx whatever the config says; a fresh one is not)."""

    def __init__(self, drops: int) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._drops = drops
        self.posts = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            with conn:
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        request = conn.recv(65536)
        if request.startswith(b"POST"):
            self.posts += 1
            if self.posts <= self._drops:
                # linger 0: close() sends a reset, what the kernel does for a killed process
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
        body = b'{"status": "ok"}'
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        self._thread.start()
        try:
            yield self.address
        finally:
            self._sock.close()


def test_a_post_whose_worker_dies_is_retried_on_a_fresh_connection(tmp_path: Path) -> None:
    worker = DyingWorker(drops=1)
    with worker.running() as upstream, running_nginx(upstream, tmp_path) as url:
        r = httpx.post(url + "/predict", json={"data": []}, timeout=10)
        assert r.status_code == 200, r.text
        assert worker.posts == 2  # the dropped try and its retry


def test_a_worker_that_keeps_dying_is_a_json_502_after_the_retry(tmp_path: Path) -> None:
    worker = DyingWorker(drops=10)
    with worker.running() as upstream, running_nginx(upstream, tmp_path) as url:
        r = httpx.post(url + "/predict", json={"data": []}, timeout=10)
        assert r.status_code == 502
        assert r.json()["error"]["code"] == "upstream_unavailable"
        assert worker.posts == 2  # retried once, not forever
