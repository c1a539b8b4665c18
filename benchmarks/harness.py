"""Local processes for benchmarks and integration tests: free ports, waiting, stopping, and the
real deploy/nginx.conf pointed at a local upstream. 127.0.0.1 only."""

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


def start_nginx(
    binary: str, upstream: str, prefix: Path, limits: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """The real deploy/nginx.conf; only the upstream, port, log path (and `limits`) are changed."""
    port = free_port()
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    for needle in ("server api:8000 ", "listen 8080;", "access_log /dev/stdout timed;"):
        assert needle in conf, needle
    conf = conf.replace("server api:8000 ", f"server {upstream} ")
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("access_log /dev/stdout timed;", f"access_log {prefix}/access.log timed;")
    for old, new in (limits or {}).items():
        assert old in conf, old
        conf = conf.replace(old, new)
    prefix.mkdir(parents=True, exist_ok=True)
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


def chunk_command(csv: Path, size: int, config: Path | str, report: str | None = None) -> list[str]:
    """argv of `python -m thunder chunk`, as a user types it."""
    cmd = [sys.executable, "-m", "thunder", "chunk", "--input", str(csv), "--size", str(size)]
    cmd += ["--config", str(config)]
    return cmd + (["--report", report] if report else [])


@dataclass(frozen=True)
class ChunkRun:
    """One `thunder chunk` run, watched: its --report, wall time and memory."""

    report: dict[str, Any]
    wall_s: float
    peak_rss: int  # bytes, the process and its descendants together
    peaks: dict[int, int]  # bytes, each process alone, by pid
    pid: int  # the command's own process


def run_chunk(csv: Path, size: int, work: Path, env: dict[str, str] | None = None) -> ChunkRun:
    """`thunder chunk` on `csv` with work/config.json, in `work`, watched until it exits;
    SystemExit with its error line when it fails."""
    cmd = chunk_command(csv, size, "config.json", report="report.json")
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    total, peaks = watch_rss(proc)
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"thunder chunk failed on {csv}: {err.decode().strip()}")
    report = json.loads((work / "report.json").read_text())
    return ChunkRun(report, wall, total, peaks, proc.pid)


def watch_rss(proc: "subprocess.Popen[bytes]") -> tuple[int, dict[int, int]]:
    """Peak RSS in bytes of `proc` and its descendants together, and of each process alone (the
    ranks of a distributed run) by pid; sampled every 20 ms until `proc` exits."""
    total = 0
    peaks: dict[int, int] = {}
    while proc.poll() is None:
        now = {pid: _rss(pid) for pid in _tree(proc.pid)}
        total = max(total, sum(now.values()))
        for pid, rss in now.items():
            peaks[pid] = max(peaks.get(pid, 0), rss)
        time.sleep(0.02)
    return total, peaks


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in task.read_text().split()]
    return out


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
