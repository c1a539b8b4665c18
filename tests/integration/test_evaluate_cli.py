"""`python -m thunder evaluate` on real files, against the session's trained model."""

import json
from pathlib import Path

import pytest

from tests.conftest import DEMO_CSV
from tests.integration.conftest import Workspace, thunder

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n"


def test_reports_of_chunk_and_evaluate_agree_on_the_same_windows(
    trained: Workspace, tmp_path: Path
) -> None:
    cfg = json.loads(trained.config.read_text())
    model_dir = Path(cfg["model_path"]).parent
    # the demo's test rows, and the past_steps rows before them that its first window reads
    lines = DEMO_CSV.read_text().splitlines()
    rows = len(lines) - 1
    past = cfg["preprocessing_config"]["split_config"]["past_steps"]
    val_end = int(rows * 0.85)  # train_ratio 0.7 + val_ratio 0.15
    test_csv = tmp_path / "test.csv"
    test_csv.write_text("\n".join([lines[0], *lines[1 + val_end - past :]]) + "\n")

    out = tmp_path / "rep"
    done = thunder(
        "evaluate", "--input", str(test_csv), "--config", str(trained.config), "--out", str(out),
        cwd=trained.root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "naive MAE" in done.stdout and f"report: {out / 'index.html'}" in done.stdout

    mine = json.loads((out / "metrics.json").read_text())
    chunks = json.loads((model_dir / "reports" / "test-split" / "metrics.json").read_text())
    assert mine["windows"] == chunks["windows"] == 209
    for part in ("naive_last", "seasonal_naive"):
        for key in ("mae", "rmse", "smape", "mase"):
            expected = chunks["baselines"][part]["meantemp"][key]
            assert mine["baselines"][part]["meantemp"][key] == pytest.approx(expected, rel=1e-6)
    # evaluate may run the ONNX export where chunk scored the torch model: float noise only
    for key in ("mae", "rmse", "smape", "mase"):
        expected = chunks["model"]["meantemp"][key]
        assert mine["model"]["meantemp"][key] == pytest.approx(expected, rel=1e-4)
    assert mine["by_step"]["model"]["meantemp"]["mae"] == pytest.approx(
        chunks["by_step"]["model"]["meantemp"]["mae"], rel=1e-4
    )

    for report in (out, model_dir / "reports" / "test-split"):
        pngs = sorted(report.glob("*.png"))
        assert [p.name for p in pngs] == ["error_by_step_meantemp.png", "forecast_meantemp.png"]
        for png in pngs:
            assert png.read_bytes().startswith(PNG) and 5_000 < png.stat().st_size < 200_000
        page = (report / "index.html").read_text()
        assert page.count("data:image/png;base64,") == 2 and "https://" not in page


def test_a_file_without_the_model_columns_is_one_line(trained: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,humidity\n2017-01-01,50\n")
    done = thunder(
        "evaluate", "--input", str(bad), "--config", str(trained.config), cwd=trained.root
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "bad.csv" in done.stderr and "meantemp" in done.stderr
