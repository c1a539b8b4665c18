"""SIGKILL at random moments never leaves a half-written version current.

Two levels: a process that does nothing but publish versions, killed 60 times at random points
of its writes (where the risky moments are dense), and the real `thunder chunk`, killed 20 times
at random points of whole training runs; after every kill the current version must load, pass
its checksums and forecast.
"""

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DEMO_CSV, ROOT, small_config
from tests.integration.conftest import thunder, train_demo
from thunder.adapters.filesystem_store import FilesystemArtifactStore
from thunder.app.container import Container
from thunder.app.settings import load_settings

DATA = json.loads((ROOT / "examples" / "data.json").read_text())

# publishes versions 1, 2, 3, ... of three files that each carry the version number
WRITER = """
import sys
from thunder.adapters.filesystem_store import FilesystemArtifactStore

root = sys.argv[1]
store = FilesystemArtifactStore(root, keep=3)
paths = [f"{root}/model.pt", f"{root}/pre/preprocessor.json", f"{root}/model.card.json"]
i = 0
while True:
    i += 1
    store.publish({p: b"%d|" % i + bytes(200_000 + 1000 * n) for n, p in enumerate(paths)})
    if i == 1:
        print("published", flush=True)
"""


def _paths(root: Path) -> list[str]:
    return [
        str(root / "model.pt"),
        str(root / "pre" / "preprocessor.json"),
        str(root / "model.card.json"),
    ]


def test_a_writer_killed_mid_publish_always_leaves_a_whole_version(tmp_path: Path) -> None:
    rng = random.Random(7)
    last = 0
    for _ in range(60):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == "published\n"
        time.sleep(rng.uniform(0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        loaded = FilesystemArtifactStore(tmp_path).load(_paths(tmp_path))
        numbers = {data.split(b"|")[0] for data in loaded.files.values()}
        assert len(numbers) == 1, f"files from different versions: {numbers}"
        assert [len(d) for d in loaded.files.values()] == [
            200_000 + 1000 * n + len(next(iter(numbers))) + 1 for n in range(3)
        ]
        last = int(next(iter(numbers)))
    assert last >= 1
    # the next publish sweeps what the killed writers left and keeps only `keep` versions
    store = FilesystemArtifactStore(tmp_path, keep=3)
    store.publish({p: b"x" for p in _paths(tmp_path)})
    versions = tmp_path / "versions"
    assert len(list(versions.iterdir())) == 3, sorted(p.name for p in versions.iterdir())
    assert not list(tmp_path.glob(".*.link"))


@pytest.mark.parametrize("seed", [1])
def test_chunk_killed_at_random_moments_never_breaks_the_served_model(
    tmp_path: Path, seed: int
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(small_config(tmp_path)))
    args = ["-m", "thunder", "chunk", "--input", str(DEMO_CSV), "--size", "500"]
    cmd = [sys.executable, *args, "--config", str(config)]
    started = time.monotonic()
    subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True)
    full = time.monotonic() - started  # a whole run: kills land anywhere in it, or after it

    rng = random.Random(seed)
    settings = load_settings(str(config))
    served = []
    for _ in range(20):
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.1 * full, 1.05 * full))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        container = Container(settings=settings)
        forecast = container.load_model()()  # verifies every checksum, or raises
        (rows,) = forecast.batch([DATA["data"]]).as_json("date")
        assert len(rows) == 12
        assert all(0 < row["meantemp"] < 45 for row in rows)
        served.append(forecast.version)
    print(f"\n20 kills: served {len(set(served))} distinct versions over {full:.1f} s runs")


def test_serve_refuses_a_tampered_model_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(small_config(tmp_path)))
    assert train_demo(config, cwd=tmp_path).returncode == 0
    model = tmp_path / "model" / "model.pth"
    model.write_bytes(model.read_bytes()[:-10])  # follows the link into the current version
    done = thunder("serve", "--config", str(config), "--port", "1", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "model.pth: does not match its checksum in manifest.json" in done.stderr


def test_versions_lists_runs_and_rollback_brings_one_back(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(small_config(tmp_path)))
    for _ in range(2):
        assert train_demo(config, cwd=tmp_path).returncode == 0
    listed = thunder("versions", "--config", str(config), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("  ") and lines[1].startswith("* ")
    assert "meantemp MAE" in lines[1]
    first = lines[0].split()[0]

    back = thunder("rollback", first, "--config", str(config), cwd=tmp_path)
    assert back.returncode == 0, back.stderr
    assert back.stdout.startswith(f"current: {first}")
    container = Container(settings=load_settings(str(config)))
    assert container.load_model()().version == first

    missing = thunder("rollback", "nope", "--config", str(config), cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "no such version" in missing.stderr
