"""The model options a user turns on in config.json and on the command line, end to end:
quantile intervals, calendar inputs and the learning-rate finder, trained by the real CLI and
served by a real uvicorn."""

import json
from pathlib import Path

import httpx

from benchmarks.harness import stop, wait_http
from tests.conftest import ROOT, small_config
from tests.integration.conftest import Workspace, start_serve, train_demo


def test_intervals_calendar_inputs_and_the_lr_finder_from_training_to_serving(
    tmp_path: Path,
) -> None:
    cfg = small_config(tmp_path)
    cfg["model_config"].update(num_features=5, quantiles=[0.1, 0.9])
    cfg["preprocessing_config"]["calendar_features"] = ["day_of_week", "day_of_year"]
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg))
    done = train_demo(config, "--report", "run.json", "--find-lr", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "(found by --find-lr)" in done.stdout
    assert "coverage of meantemp" in done.stdout
    report = json.loads((tmp_path / "run.json").read_text())
    assert report["train"]["lr_found"] is True
    shares = report["coverage"]["meantemp"]
    assert set(shares) == {"q10", "q50", "q90", "q10_q90"}
    assert all(0.0 <= v <= 1.0 for v in shares.values())

    proc, url = start_serve(Workspace(tmp_path, config), tmp_path / "serve.log")
    try:
        wait_http(url + "/readyz", proc)
        body = json.loads((ROOT / "examples" / "data.json").read_text())
        r = httpx.post(url + "/predict", json=body, timeout=10)
        assert r.status_code == 200, r.text
        rows = r.json()["predictions"]
        assert all(
            row["meantemp_q10"] <= row["meantemp"] == row["meantemp_q50"] <= row["meantemp_q90"]
            for row in rows
        )
        info = httpx.get(url + "/", timeout=10).json()
        assert "day_of_year_sin" in json.dumps(info)
        no_dates = {"data": [{k: v for k, v in rec.items() if k != "date"} for rec in body["data"]]}
        r = httpx.post(url + "/predict", json=no_dates, timeout=10)
        assert r.status_code == 422 and "date" in r.json()["error"]["message"]
    finally:
        stop(proc)
