"""A raw HTTP/1.1 client for hostile requests, and the server's peak memory from /proc.

httpx cannot say when the answer came while it is still uploading, nor keep uploading after
it; a socket with a sender thread can. Linux only (/proc), as the integration tests are.
"""

import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float  # from the first byte sent to the whole answer read
    sent: int  # body bytes the server took before it answered and closed

    def json(self) -> Any:
        return json.loads(self.body)


def post(host: str, port: int, path: str, body: Iterable[bytes], headers: dict[str, str]) -> Answer:
    """POST `body` (an iterable of byte strings, sent as they come) and read the answer while
    it is still being sent, as a client uploading a huge body would."""
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    sock = socket.create_connection((host, port), timeout=30)
    sent = 0
    stop = threading.Event()

    def upload() -> None:
        nonlocal sent
        try:
            for chunk in body:
                if stop.is_set():
                    return
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server answered and closed: what a hostile upload should get
            return

    start = time.perf_counter()
    sock.sendall(head.encode())
    sender = threading.Thread(target=upload, daemon=True)
    sender.start()
    try:
        status, answer_headers, answer_body = _read_answer(sock)
        seconds = time.perf_counter() - start
    finally:
        stop.set()
        sock.close()
        sender.join(timeout=30)
    return Answer(status, answer_headers, answer_body, seconds, sent)


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer: {data!r}")
        data += chunk
    raw_head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(status_line.split()[1]), headers, rest[:length]


def chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """`pieces` in HTTP/1.1 chunked transfer encoding."""
    for piece in pieces:
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def repeated(piece: bytes, total: int) -> Iterator[bytes]:
    """`total` bytes as copies of `piece` (one object: the client holds no big body either)."""
    for _ in range(total // len(piece)):
        yield piece


class PeakMemory:
    """The resident-set peak (VmHWM) a process reaches during a `with` block, over its RSS at
    the start: the peak is reset first by writing 5 to /proc/PID/clear_refs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.grew_mib = 0.0

    def __enter__(self) -> "PeakMemory":
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self._start = self._kib("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.grew_mib = max(0, self._kib("VmHWM") - self._start) / 1024

    def _kib(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} for pid {self.pid}")
