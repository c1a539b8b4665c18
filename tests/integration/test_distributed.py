"""Data-parallel training for real: Lightning DDP over gloo, on 127.0.0.1.

Two processes started by `chunk` itself (training_config.devices = 2), and two "nodes" started
by two torchrun launches, as on a cluster. Each must train, publish exactly one version, print
one summary, and reach the one-process accuracy within noise.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import thunder as thunder_api
from benchmarks.harness import free_port
from tests.conftest import DEMO_CSV, flat, small_config
from tests.integration.conftest import thunder

EPOCHS = 4


def workspace(root: Path, **training: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    cfg = small_config(root)
    cfg["training_config"] = {"epochs": EPOCHS, **training}
    config = root / "config.json"
    config.write_text(json.dumps(cfg))
    return config


def train_demo_in(root: Path) -> subprocess.CompletedProcess[str]:
    """`thunder chunk` on the demo data with root/config.json, its report in root/run.json."""
    return thunder(
        "chunk", "--input", str(DEMO_CSV), "--size", "500", "--report", "run.json", cwd=root
    )


def versions(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "model" / "versions").iterdir())


def report_of(root: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((root / "run.json").read_text())
    return report


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("one")
    workspace(root)
    done = train_demo_in(root)
    assert done.returncode == 0, done.stderr
    return report_of(root)


def assert_like_one_process(report: dict[str, Any], alone: dict[str, Any]) -> None:
    assert report["train"]["processes"] == 2
    assert report["train"]["windows_seen"] == alone["train"]["windows_seen"]  # 988 per epoch
    # half the steps: each rank trains on its half of the windows, batch by batch in step
    assert report["train"]["steps"] == EPOCHS * 16 < alone["train"]["steps"] == EPOCHS * 31
    assert report["test"]["windows"] == alone["test"]["windows"]
    # the same test windows and scaler: the baselines' errors added up over the ranks' shards
    got, want = flat(report["baselines"]), flat(alone["baselines"])
    assert got.keys() == want.keys()
    assert list(got.values()) == pytest.approx(list(want.values()), rel=1e-9)
    mae, alone_mae = report["test"]["meantemp"]["mae"], alone["test"]["meantemp"]["mae"]
    assert abs(mae - alone_mae) / alone_mae < 0.15, (mae, alone_mae)


def test_two_local_processes_train_once_like_one(
    tmp_path: Path, one_process: dict[str, Any]
) -> None:
    workspace(tmp_path, devices=2, strategy="ddp")
    done = train_demo_in(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("published as version") == 1  # rank 0 alone prints and writes
    assert len(versions(tmp_path)) == 1
    assert_like_one_process(report_of(tmp_path), one_process)
    assert "Traceback" not in done.stderr


def test_two_nodes_started_by_torchrun(tmp_path: Path, one_process: dict[str, Any]) -> None:
    workspace(tmp_path)  # devices and num_nodes stay "auto"/1: the launcher decides
    port = str(free_port())
    # both "nodes" share these 2 cores: one thread each, as a node's launcher would give
    env = {k: v for k, v in os.environ.items() if not k.startswith("THUNDER_")}
    env["OMP_NUM_THREADS"] = "1"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2"]
    launcher += ["--nproc-per-node", "1", "--master-addr", "127.0.0.1", "--master-port", port]
    chunk = ["-m", "thunder", "chunk", "--input", str(DEMO_CSV), "--size", "500"]
    logs = [tmp_path / f"node{rank}.log" for rank in (0, 1)]
    nodes = [
        subprocess.Popen(
            [*launcher, "--node-rank", str(rank), *chunk, "--report", "run.json"],
            cwd=tmp_path,
            env=env,
            stdout=log.open("w"),  # files, not pipes: neither node may block on a full pipe
            stderr=subprocess.STDOUT,
        )
        for rank, log in enumerate(logs)
    ]
    codes = [node.wait(timeout=300) for node in nodes]
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0], outputs
    assert "published as version" in outputs[0]
    assert "published as version" not in outputs[1]  # the other node trains, says nothing
    assert len(versions(tmp_path)) == 1
    assert_like_one_process(report_of(tmp_path), one_process)


def test_a_bad_row_stops_every_rank_with_one_line_and_keeps_the_model(tmp_path: Path) -> None:
    workspace(tmp_path, devices=2, max_steps=2)
    good = thunder("chunk", "--input", str(DEMO_CSV), "--size", "500", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    before = versions(tmp_path)
    lines = DEMO_CSV.read_text().splitlines()
    fields = lines[700].split(",")
    lines[700] = ",".join([fields[0], "oops", *fields[2:]])  # data row 700: meantemp
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    done = thunder("chunk", "--input", str(bad), "--size", "500", cwd=tmp_path)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("thunder: error:")]
    assert len(errors) == 2, done.stderr  # rank 0's reason, then the launcher's summary
    assert errors[0].endswith("bad.csv: row 700, column 'meantemp': 'oops' is not a number")
    assert "rank 0" in errors[1] and "previous artifacts are unchanged" in errors[1]
    assert "Traceback" not in done.stderr
    assert versions(tmp_path) == before


def _time_mix(root: Path, **training: Any) -> Any:
    """Train xlstm_mixer in `root` (one step: its linear path is solved before any step) and
    return the published time-mixing weights."""
    config = workspace(root, max_steps=1, **training)
    cfg = json.loads(config.read_text())
    cfg["model_config"].update(architecture="xlstm_mixer", num_layers=1)
    config.write_text(json.dumps(cfg))
    done = train_demo_in(root)
    assert done.returncode == 0, done.stderr
    net = thunder_api.load(thunder_api.load_config(config)).module().architecture
    return net.time_mix.weight.detach().numpy()


def test_two_ranks_solve_the_closed_form_start_over_all_windows(tmp_path: Path) -> None:
    alone = _time_mix(tmp_path / "one")
    ranks = _time_mix(tmp_path / "two", devices=2, strategy="ddp")
    # each rank sums the normal equations over its shard; added up they are one process's
    assert np.abs(alone).sum() > 0
    np.testing.assert_allclose(ranks, alone, atol=1e-5)
