"""A training run killed with SIGKILL mid-epoch resumes to the same end as one never killed."""

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import chunk_command
from tests.conftest import DEMO_CSV, small_config


def _chunk(config: Path, report: Path, *extra: str) -> list[str]:
    return [*chunk_command(DEMO_CSV, 500, config, str(report)), *extra]


def _workspace(root: Path) -> Path:
    root.mkdir()
    cfg = small_config(root)
    cfg["training_config"] = {"epochs": 4, "seed": 3, "early_stopping_patience": 10}
    config = root / "config.json"
    config.write_text(json.dumps(cfg))
    return config


def _report(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def test_sigkill_mid_epoch_then_resume_ends_like_an_uninterrupted_run(tmp_path: Path) -> None:
    whole = _workspace(tmp_path / "whole")
    subprocess.run(_chunk(whole, tmp_path / "whole.json"), check=True, capture_output=True)
    expected = _report(tmp_path / "whole.json")

    killed = _workspace(tmp_path / "killed")
    proc = subprocess.Popen(_chunk(killed, tmp_path / "killed.json"), stderr=subprocess.DEVNULL)
    runs = tmp_path / "killed" / "model" / ".thunder-runs"
    deadline = time.monotonic() + 180
    while not any(runs.glob("*/last.ckpt")):  # epoch 1 is checkpointed: now in epoch 2
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not (tmp_path / "killed.json").exists(), "the kill came after the run had finished"

    resumed = subprocess.run(
        _chunk(killed, tmp_path / "killed.json", "--resume"), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    got = _report(tmp_path / "killed.json")
    assert got["train"]["epochs"] == expected["train"]["epochs"] == 4
    assert got["train"]["steps"] == expected["train"]["steps"]
    # the resumed process trains the epochs after the checkpointed one, not all four again
    assert got["train"]["windows_seen"] < expected["train"]["windows_seen"]
    mae, want = got["test"]["meantemp"]["mae"], expected["test"]["meantemp"]["mae"]
    print(f"\ntest MAE uninterrupted {want:.4f}, killed + resumed {mae:.4f}")
    assert abs(mae - want) <= 0.05 * want
