"""The real CLI on real files, as a subprocess, as a user runs it."""

import json
from pathlib import Path

import pytest

from tests.conftest import DEMO_CSV, small_config
from tests.integration.conftest import Workspace, thunder

pytestmark = pytest.mark.integration


def test_training_on_the_demo_data_writes_three_artifacts_and_a_report(trained: Workspace) -> None:
    cfg = json.loads(trained.config.read_text())
    model = Path(cfg["model_path"])
    assert model.stat().st_size > 10_000
    assert Path(cfg["preprocessor_path"]).exists()
    card = json.loads(model.with_suffix(".card.json").read_text())
    assert card["data"]["rows"] == 1462
    assert card["columns"] == {
        "inputs": ["meantemp"],
        "targets": ["meantemp"],
        "time": "date",
        "calendar": [],
    }
    assert card["versions"]["torch"].startswith("2.13")


def test_report_has_metrics_next_to_the_naive_baseline(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(small_config(tmp_path)))
    done = thunder(
        "chunk",
        "--input",
        str(DEMO_CSV),
        "--size",
        "333",
        "--config",
        str(config),
        "--report",
        "run.json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "naive MAE" in done.stdout
    report = json.loads((tmp_path / "run.json").read_text())
    assert report["data"]["rows"] == 1462
    for key in ("mae", "rmse"):
        assert report["test"]["meantemp"][key] > 0
        assert report["baselines"]["naive_last"]["meantemp"][key] > 0
    assert report["train"]["wall_s"] > 0
    assert report["train"]["windows_per_s"] > 0
    assert report["train"]["steps"] == 5  # max_steps from the config


def test_serve_with_a_missing_model_exits_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(small_config(tmp_path)))
    done = thunder("serve", "--config", str(config), "--port", "0", cwd=tmp_path, timeout=60)
    assert done.returncode == 1
    assert "no such artifact" in done.stderr
    assert done.stderr.count("\n") == 1


def test_help_works_without_a_config(tmp_path: Path) -> None:
    done = thunder("--help", cwd=tmp_path, timeout=60)
    assert done.returncode == 0
    assert "chunk" in done.stdout and "serve" in done.stdout


def test_resume_without_a_checkpoint_says_so_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(small_config(tmp_path)))
    args = ("chunk", "--input", str(DEMO_CSV), "--size", "500", "--config", str(config))
    done = thunder(*args, "--resume", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "no checkpoint of this data and config" in done.stderr


def test_ctrl_c_during_training_keeps_the_artifacts_and_points_to_resume(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    cfg = small_config(tmp_path)
    cfg["training_config"] = {"epochs": 200}
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "thunder",
            "chunk",
            "--input",
            str(DEMO_CSV),
            "--size",
            "500",
            "--config",
            str(config),
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = tmp_path / "model" / ".thunder-runs"
    deadline = time.monotonic() + 120
    while not any(runs.glob("*/last.ckpt")):  # one epoch done: an interruption can resume
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "interrupted; the previous artifacts are unchanged (chunk --resume" in err
    assert not (tmp_path / "model" / "model.pth").exists()
