import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, small_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def thunder(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `python -m thunder ARGS` as a user would, in its own process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THUNDER_")}
    return subprocess.run(
        [sys.executable, "-m", "thunder", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(url)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class Workspace:
    root: Path
    config: Path


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One real training run on the demo data, shared by the serving tests."""
    root = tmp_path_factory.mktemp("trained")
    config = root / "config.json"
    config.write_text(json.dumps(small_config(root)))
    done = thunder(
        "chunk",
        "--input",
        str(ROOT / "examples" / "climate-data.csv"),
        "--size",
        "500",
        "--config",
        str(config),
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    return Workspace(root, config)


def start_serve(
    work: Workspace, log: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m thunder serve` on a free 127.0.0.1 port, output to `log`; `env` adds variables."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "thunder",
                "serve",
                "--config",
                str(work.config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *extra,
            ],
            cwd=work.root,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def api(trained: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `thunder serve` (uvicorn) on a free 127.0.0.1 port."""
    proc, url = start_serve(trained, tmp_path_factory.mktemp("logs") / "serve.log")
    try:
        wait_http(url + "/", proc)
        yield url
    finally:
        stop(proc)


def start_nginx(
    upstream: str, prefix: Path, limits: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """The real deploy/nginx.conf; only the upstream, port, log path (and `limits`) are changed."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx is not installed (scripts/test.sh installs it with apt-get)")
    port = free_port()
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for needle in ("server api:8000;", "listen 8080;", "access_log /dev/stdout timed;"):
        assert needle in conf
    conf = conf.replace("server api:8000;", f"server {upstream};")
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("access_log /dev/stdout timed;", f"access_log {prefix}/access.log timed;")
    for old, new in (limits or {}).items():
        assert old in conf
        conf = conf.replace(old, new)
    (prefix / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(
        [
            binary,
            "-p",
            str(prefix),
            "-c",
            str(prefix / "nginx.conf"),
            "-g",
            f"daemon off; pid {prefix}/nginx.pid; error_log {prefix}/error.log;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def running_nginx(
    upstream: str, prefix: Path, limits: dict[str, str] | None = None
) -> Iterator[str]:
    """start_nginx, wait until it answers, yield its URL, stop it."""
    proc, url = start_nginx(upstream, prefix, limits)
    try:
        wait_http(url + "/healthz", proc, timeout=20)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def nginx(api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_nginx(api.removeprefix("http://"), tmp_path_factory.mktemp("nginx")) as url:
        yield url


@pytest.fixture
def nginx_without_api(tmp_path: Path) -> Iterator[str]:
    """nginx in front of a port where nothing listens: the API is down."""
    with running_nginx(f"127.0.0.1:{free_port()}", tmp_path) as url:
        yield url


@pytest.fixture
def strict_nginx(api: str, tmp_path: Path) -> Iterator[str]:
    """The same nginx.conf with its rate limit turned down to 5 requests/s, burst 5."""
    limits = {"rate=1000r/s": "rate=5r/s", "burst=2000": "burst=5"}
    with running_nginx(api.removeprefix("http://"), tmp_path, limits) as url:
        yield url
