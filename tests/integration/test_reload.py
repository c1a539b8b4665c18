"""Hot reload and shutdown of a real `thunder serve`, under load, with and without nginx."""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import httpx
import pytest

from tests.conftest import ROOT
from tests.integration.conftest import Workspace, running_nginx, start_serve, stop, wait_http
from thunder.adapters.filesystem_store import FilesystemArtifactStore

pytestmark = pytest.mark.integration

DATA = json.loads((ROOT / "examples" / "data.json").read_text())
TOKEN = "test-admin-token"


@pytest.fixture
def own_model(trained: Workspace, tmp_path: Path) -> Workspace:
    """A copy of the trained artifacts that a test may replace."""
    cfg = json.loads(trained.config.read_text())
    for key, name in (("model_path", "model/model.pth"), ("preprocessor_path", "pre/pre.pkl")):
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(cfg[key], target)
        if key == "model_path":
            shutil.copy(Path(cfg[key]).with_suffix(".card.json"), target.with_suffix(".card.json"))
        cfg[key] = str(target)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return Workspace(tmp_path, tmp_path / "config.json")


def publish_new_card(work: Workspace, trained_at: str) -> None:
    """Stand in for a new training run: a new version published as `chunk` publishes it."""
    cfg = json.loads(work.config.read_text())
    card_path = str(Path(cfg["model_path"]).with_suffix(".card.json"))
    store = FilesystemArtifactStore(Path(cfg["model_path"]).parent)
    files = dict(store.load([cfg["model_path"], cfg["preprocessor_path"], card_path]).files)
    card = json.loads(files[card_path])
    card["trained_at"] = trained_at
    store.publish({**files, card_path: json.dumps(card).encode()})


class ClientThreads:
    """Client threads running `_run` from `with` until its end (joined, 60 s at most)."""

    def __init__(self, url: str, threads: int) -> None:
        self.url = url
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)


class Load(ClientThreads):
    """Two clients posting /predict until stopped (at most 5000 requests each)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, threads=2)
        self.results: Counter[str] = Counter()

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            for _ in range(5000):
                if self._stop.is_set():
                    return
                try:
                    self.results[
                        str(client.post(self.url + "/predict", json=DATA).status_code)
                    ] += 1
                except httpx.HTTPError as e:
                    self.results[type(e).__name__] += 1


def wait_for_model(url: str, trained_at: str, timeout: float = 120) -> None:
    """Until 10 answers in a row come from the new model (every worker has it)."""
    deadline, streak = time.monotonic() + timeout, 0
    with httpx.Client(timeout=10) as client:
        while streak < 10:
            assert time.monotonic() < deadline, f"still not serving {trained_at}"
            streak = (
                streak + 1
                if client.get(url + "/").json()["model"]["trained_at"] == trained_at
                else 0
            )
            time.sleep(0.1 if streak else 0.5)


def predictions_total(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    match = re.search(r'^thunder_predictions_total\{endpoint="predict"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


@contextlib.contextmanager
def two_workers_behind_nginx(
    work: Workspace, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`serve --workers 2` with the admin token set, the real nginx.conf in front; its URL."""
    proc, api = start_serve(
        work, tmp_path / "serve.log", "--workers", "2", env={"THUNDER_ADMIN_TOKEN": TOKEN}
    )
    try:
        wait_http(api + "/readyz", proc, timeout=120)
        (tmp_path / "nginx").mkdir()
        with running_nginx(api.removeprefix("http://"), tmp_path / "nginx") as url:
            yield proc, url
    finally:
        stop(proc)


def test_reload_of_two_workers_behind_nginx_under_load_fails_no_request(
    own_model: Workspace, tmp_path: Path
) -> None:
    with two_workers_behind_nginx(own_model, tmp_path) as (_, url):
        before = predictions_total(url)
        with Load(url) as load:
            time.sleep(1)
            publish_new_card(own_model, "2030-01-01T00:00:00+00:00")
            r = httpx.post(
                url + "/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
            )
            assert r.status_code == 202, r.text
            assert r.json()["model"]["trained_at"] == "2030-01-01T00:00:00+00:00"
            wait_for_model(url, "2030-01-01T00:00:00+00:00")
        assert set(load.results) == {"200"}, load.results
        # every worker's counts, the retired ones' included, add up in /metrics
        assert predictions_total(url) - before == load.results["200"]


def test_sighup_reloads_a_single_worker_under_load(own_model: Workspace, tmp_path: Path) -> None:
    proc, url = start_serve(own_model, tmp_path / "serve.log")
    try:
        wait_http(url + "/readyz", proc, timeout=120)
        with Load(url) as load:
            time.sleep(0.5)
            publish_new_card(own_model, "2031-01-01T00:00:00+00:00")
            proc.send_signal(signal.SIGHUP)
            wait_for_model(url, "2031-01-01T00:00:00+00:00")
        assert set(load.results) == {"200"}, load.results
        assert proc.poll() is None
    finally:
        stop(proc)
    assert (
        "SIGHUP: now serving the model trained at 2031-01-01"
        in (tmp_path / "serve.log").read_text()
    )


def test_sigterm_lets_the_request_in_flight_finish(trained: Workspace, tmp_path: Path) -> None:
    proc, url = start_serve(trained, tmp_path / "serve.log")
    try:
        wait_http(url + "/readyz", proc, timeout=120)
        body = json.dumps(DATA).encode()
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            head = (
                f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            sock.sendall(head + body[:100])  # the request is in flight: half its body is here
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            sock.sendall(body[100:])
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
        assert b'"predictions"' in reply
        # uvicorn re-raises the signal once shut down: exit by SIGTERM, as a supervisor expects
        assert proc.wait(30) == -signal.SIGTERM
    finally:
        stop(proc)
    assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()


class PacedLoad(ClientThreads):
    """POST /predict at a fixed total rate from 4 threads until stopped; (time, outcome, s)."""

    def __init__(self, url: str, rate: float, threads: int = 4) -> None:
        super().__init__(url, threads)
        self.interval = threads / rate
        self.results: list[tuple[float, str, float]] = []
        self.started = time.monotonic()

    def _run(self) -> None:
        due = time.monotonic()
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                due += self.interval
                t0 = time.monotonic()
                try:
                    outcome = str(client.post(self.url + "/predict", json=DATA).status_code)
                except httpx.HTTPError as e:
                    outcome = type(e).__name__
                self.results.append((t0 - self.started, outcome, time.monotonic() - t0))
                time.sleep(max(0.0, due - time.monotonic()))


def worker_pids(supervisor: int) -> list[int]:
    """uvicorn's worker processes (its children, not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [
        int(pid)
        for pid in children
        if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def test_a_minute_at_200_per_s_through_nginx_with_a_worker_killed_and_a_reload_fails_nothing(
    own_model: Workspace, tmp_path: Path
) -> None:
    with two_workers_behind_nginx(own_model, tmp_path) as (proc, url):
        with PacedLoad(url, rate=200) as load:
            time.sleep(20)
            victim = worker_pids(proc.pid)[0]
            os.kill(victim, signal.SIGKILL)  # mid-load: requests are in flight on it
            killed = time.monotonic() - load.started
            # uvicorn's supervisor notices the death on its next health round and starts a
            # new worker (its round pings each live worker too, so a busy one slows it)
            deadline = time.monotonic() + 180  # seen: 20 s in one run, ~2 min in another
            while victim in worker_pids(proc.pid) or len(worker_pids(proc.pid)) < 2:
                assert time.monotonic() < deadline, "uvicorn did not replace the killed worker"
                time.sleep(0.5)
            time.sleep(max(0.0, 40 - (time.monotonic() - load.started)))
            publish_new_card(own_model, "2032-01-01T00:00:00+00:00")
            reloaded = time.monotonic() - load.started
            r = httpx.post(
                url + "/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
            )
            assert r.status_code == 202, r.text
            time.sleep(20)
        wait_for_model(url, "2032-01-01T00:00:00+00:00")
    outcomes = Counter(outcome for _, outcome, _ in load.results)
    seconds = load.results[-1][0]
    latencies = sorted(s for _, _, s in load.results)
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(
        f"\n{len(load.results)} requests in {seconds:.0f} s ({len(load.results) / seconds:.0f}/s), "
        f"a worker SIGKILLed at {killed:.0f} s, a reload at {reloaded:.0f} s: {dict(outcomes)}; "
        f"p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms"
    )
    assert set(outcomes) == {"200"}, outcomes
    # the rate is what the 2 cores allow beside the servers (not asserted); what matters is
    # that requests ran through each phase: before the kill, after it, after the reload
    for start, end in ((0, killed), (killed, reloaded), (reloaded, seconds)):
        assert sum(start <= t < end for t, _, _ in load.results) >= 500
