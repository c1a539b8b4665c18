"""`chunk` on Parquet and on zstd-compressed CSV trains exactly as on the plain CSV."""

import json
from pathlib import Path
from typing import Any

import pandas as pd
import zstandard

from tests.conftest import DEMO_CSV, small_config
from tests.integration.conftest import thunder


def _train(tmp_path: Path, data: Path) -> dict[str, Any]:
    root = tmp_path / data.name.replace(".", "_")
    root.mkdir()
    (root / "config.json").write_text(json.dumps(small_config(root)))
    done = thunder("chunk", "--input", str(data), "--size", "200", "--report", "run.json", cwd=root)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads((root / "run.json").read_text())
    return report


def test_parquet_and_zstd_csv_train_to_the_same_metrics_as_csv(tmp_path: Path) -> None:
    parquet = tmp_path / "climate.parquet"
    frame = pd.read_csv(DEMO_CSV)
    frame["date"] = pd.to_datetime(frame["date"])
    frame.to_parquet(parquet, index=False)
    zst = tmp_path / "climate.csv.zst"
    zst.write_bytes(zstandard.compress(DEMO_CSV.read_bytes()))

    plain = _train(tmp_path, DEMO_CSV)
    for data in (parquet, zst):
        got = _train(tmp_path, data)
        assert got["data"]["rows"] == plain["data"]["rows"]
        assert got["train"]["steps"] == plain["train"]["steps"]
        assert got["test"] == plain["test"], data.name
