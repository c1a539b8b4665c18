"""Every non-default architecture trained by the real CLI on the demo data and served by a real
`thunder serve`: the same API and export paths as the xLSTM."""

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from benchmarks.harness import stop, wait_http
from tests.conftest import ROOT, small_config
from tests.integration.conftest import Workspace, start_serve, train_demo
from thunder.app.container import Container
from thunder.app.settings import load_settings

pytestmark = pytest.mark.integration

DATA = json.loads((ROOT / "examples" / "data.json").read_text())


@pytest.mark.parametrize("arch", ["lstm", "lstm_attention", "tft"])
def test_an_architecture_trains_with_the_cli_and_serves_predict(arch: str, tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    cfg["model_config"].update(architecture=arch, quantiles=[0.1, 0.9])
    if arch == "lstm":  # a plain LSTM has no heads: the option must keep its default
        del cfg["model_config"]["num_attention_heads"]
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg))
    done = train_demo(config, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "coverage of meantemp" in done.stdout

    proc, url = start_serve(Workspace(tmp_path, config), tmp_path / "serve.log")
    try:
        wait_http(url + "/readyz", proc, timeout=120)
        r = httpx.post(url + "/predict", json=DATA, timeout=30)
        assert r.status_code == 200, r.text
        rows = r.json()["predictions"]
        model = httpx.get(url + "/", timeout=30).json()["model"]
    finally:
        stop(proc)
    assert len(rows) == 12
    assert all(0 < row["meantemp"] < 45 for row in rows)  # the data's units, not z-scores
    assert all(row["meantemp_q10"] <= row["meantemp"] <= row["meantemp_q90"] for row in rows)

    # the served file (ONNX when onnxruntime is installed) forecasts what the torch weights do
    settings = load_settings(str(config))
    serving = settings.serving_config.model_copy(update={"backend": "torch"})
    torch_model = Container(
        settings=settings.model_copy(update={"serving_config": serving})
    ).load_model()()
    assert torch_model.model_file == "model.pth"
    (torch_rows,) = torch_model.batch([DATA["data"]]).as_json("date")
    want = [row["meantemp"] for row in torch_rows]
    np.testing.assert_allclose([row["meantemp"] for row in rows], want, atol=1e-4, rtol=0)
    assert model["model_file"] in ("model.onnx", "model.pth")
