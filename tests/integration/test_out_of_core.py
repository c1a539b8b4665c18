"""The real CLI on a generated long-format file and on data that needs a missing-value policy."""

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.synthetic import config, write_csv
from tests.conftest import DEMO_CSV, small_config
from tests.integration.conftest import Workspace, thunder

pytestmark = pytest.mark.integration


def _write(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(json.dumps(cfg))
    return path


def test_a_200k_row_file_of_200_series_trains_end_to_end_in_chunks_of_1000(
    tmp_path: Path,
) -> None:
    csv = write_csv(tmp_path / "long.csv", 200_000, series=200)
    cfg = config(tmp_path, series=True, max_steps=5, eval_stride=50)
    cfg["model_config"].update(hidden_size=16, num_attention_heads=2)
    conf = _write(tmp_path / "config.json", cfg)
    args = ("chunk", "--input", str(csv), "--size", "1000", "--config", str(conf))
    done = thunder(*args, "--report", "first.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first = json.loads((tmp_path / "first.json").read_text())
    assert first["data"]["rows"] == 200_000 and first["data"]["series"] == 200
    assert first["data"]["cache"] == "built"
    # per series: 700 train rows, origins 24..688 -> 665 windows
    assert first["train"]["windows"] == 200 * 665
    assert first["test"]["load"]["mae"] > 0

    again = thunder(*args, "--report", "again.json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    report = json.loads((tmp_path / "again.json").read_text())
    assert report["data"]["cache"] == "hit"
    assert report["test"] == first["test"]  # same seed, same rows: the same model


def test_a_series_shorter_than_one_window_stops_the_run_and_keeps_the_model(
    trained: Workspace, tmp_path: Path
) -> None:
    cfg = json.loads(trained.config.read_text())
    cfg["preprocessing_config"]["id_column"] = "city"
    conf = _write(tmp_path / "config.json", cfg)
    rows = DEMO_CSV.read_text().splitlines()
    body = [f"{r.split(',', 1)[0]},delhi,{r.split(',', 1)[1]}" for r in rows[1:]]
    short = [f"{r.split(',', 1)[0]},agra,{r.split(',', 1)[1]}" for r in rows[1:11]]
    header = rows[0].split(",", 1)
    csv = tmp_path / "cities.csv"
    csv.write_text("\n".join([f"{header[0]},city,{header[1]}", *body, *short]) + "\n")
    before = Path(cfg["model_path"]).read_bytes()
    done = thunder(
        "chunk", "--input", str(csv), "--size", "100", "--config", str(conf), cwd=tmp_path
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "series 'agra' has 10 rows, fewer than one window" in done.stderr
    assert Path(cfg["model_path"]).read_bytes() == before


@pytest.mark.parametrize("policy", ["ffill", "drop"])
def test_a_missing_value_policy_accepts_empty_cells(tmp_path: Path, policy: str) -> None:
    lines = DEMO_CSV.read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("meantemp")
    for i in (10, 500, 900):
        cells = lines[i].split(",")
        cells[col] = ""
        lines[i] = ",".join(cells)
    csv = tmp_path / "gaps.csv"
    csv.write_text("\n".join(lines) + "\n")
    cfg = small_config(tmp_path)
    cfg["preprocessing_config"]["missing"] = policy
    conf = _write(tmp_path / "config.json", cfg)
    done = thunder(
        "chunk",
        "--input",
        str(csv),
        "--size",
        "200",
        "--config",
        str(conf),
        "--report",
        "r.json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "r.json").read_text())["data"]["rows"]
    assert rows == (1462 if policy == "ffill" else 1459)
