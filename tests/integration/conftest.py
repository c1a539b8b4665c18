import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks import harness
from benchmarks.harness import free_port, nginx_binary, stop, wait_http
from tests.conftest import ROOT, small_config


def thunder(
    *args: str, cwd: Path, timeout: float = 300, via: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run `python -m thunder ARGS` as a user would, in its own process (`via`: a command that
    runs it, such as setpriv)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THUNDER_")}
    return subprocess.run(
        [*via, sys.executable, "-m", "thunder", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


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
    done = train_demo(config, cwd=root)
    assert done.returncode == 0, done.stderr
    return Workspace(root, config)


def train_demo(config: Path, *extra: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`thunder chunk` on the bundled demo data, 500 rows a chunk, with `config`."""
    csv = str(ROOT / "examples" / "climate-data.csv")
    return thunder(
        "chunk", "--input", csv, "--size", "500", "--config", str(config), *extra, cwd=cwd
    )


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
    binary = nginx_binary()
    if binary is None:
        pytest.fail("nginx is not installed (scripts/test.sh installs it with apt-get)")
    return harness.start_nginx(binary, upstream, prefix, limits)


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
