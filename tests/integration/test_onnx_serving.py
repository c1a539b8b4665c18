"""`thunder export --format onnx`, then `thunder serve --backend onnx`: the same forecasts."""

import json
from pathlib import Path

import httpx
import numpy as np

from tests.conftest import ROOT, small_config
from tests.integration.conftest import Workspace, start_serve, stop, thunder, train_demo, wait_http

DATA = json.loads((ROOT / "examples" / "data.json").read_text())


def _forecast(work: Workspace, log: Path, *extra: str) -> tuple[list[float], str]:
    proc, url = start_serve(work, log, *extra)
    try:
        wait_http(url + "/readyz", proc, timeout=120)
        rows = httpx.post(url + "/predict", json=DATA, timeout=30).json()["predictions"]
        version = httpx.get(url + "/", timeout=30).json()["model"]["artifact_version"]
    finally:
        stop(proc)
    return [row["meantemp"] for row in rows], version


def test_export_then_serve_onnx_gives_the_torch_forecasts(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(small_config(tmp_path)))
    assert train_demo(config, cwd=tmp_path).returncode == 0
    work = Workspace(tmp_path, config)

    no_onnx = thunder("serve", "--backend", "onnx", "--config", str(config), cwd=tmp_path)
    assert no_onnx.returncode == 1
    assert no_onnx.stderr.count("\n") == 1, no_onnx.stderr
    assert "has no 'model.onnx': export it with `thunder export --format onnx`" in no_onnx.stderr

    torch_rows, trained = _forecast(work, tmp_path / "torch.log")
    done = thunder("export", "--format", "onnx", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"exported version {trained} to ONNX" in done.stdout
    onnx_rows, exported = _forecast(work, tmp_path / "onnx.log", "--backend", "onnx")
    assert exported != trained, "the export is published as a version of its own"
    np.testing.assert_allclose(onnx_rows, torch_rows, atol=1e-4, rtol=0)

    # --output writes a standalone copy and leaves the versions alone
    out = tmp_path / "elsewhere" / "xlstm.onnx"
    copy = thunder("export", "--output", str(out), "--config", str(config), cwd=tmp_path)
    assert copy.returncode == 0, copy.stderr
    assert out.read_bytes() == (tmp_path / "model" / "model.onnx").read_bytes()
