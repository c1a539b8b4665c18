"""`thunder export --format onnx`, then `thunder serve --backend onnx`: the same forecasts."""

import json
from pathlib import Path

import httpx
import numpy as np

from tests.conftest import ROOT, small_config
from tests.integration.conftest import Workspace, start_serve, stop, thunder, train_demo, wait_http
from thunder.adapters.filesystem_store import FilesystemArtifactStore
from thunder.app import paths
from thunder.app.container import Container
from thunder.app.settings import load_settings

DATA = json.loads((ROOT / "examples" / "data.json").read_text())


def _forecast(work: Workspace, log: Path, *extra: str) -> tuple[list[float], str, str]:
    proc, url = start_serve(work, log, *extra)
    try:
        wait_http(url + "/readyz", proc, timeout=120)
        rows = httpx.post(url + "/predict", json=DATA, timeout=30).json()["predictions"]
        model = httpx.get(url + "/", timeout=30).json()["model"]
    finally:
        stop(proc)
    return [row["meantemp"] for row in rows], model["artifact_version"], model["model_file"]


def test_onnx_export_serves_the_torch_forecasts(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(small_config(tmp_path)))
    trained = train_demo(config, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "onnx: " in trained.stdout, "with the onnx extra, chunk exports each model too"
    work = Workspace(tmp_path, config)

    torch_rows, version, torch_file = _forecast(work, tmp_path / "t.log", "--backend", "torch")
    onnx_rows, same, onnx_file = _forecast(work, tmp_path / "a.log")  # auto: the ONNX file
    assert (torch_file, onnx_file, same) == ("model.pth", "model.onnx", version)
    np.testing.assert_allclose(onnx_rows, torch_rows, atol=1e-4, rtol=0)

    # --output writes a standalone copy and leaves the versions alone
    out = tmp_path / "elsewhere" / "xlstm.onnx"
    copy = thunder("export", "--output", str(out), "--config", str(config), cwd=tmp_path)
    assert copy.returncode == 0, copy.stderr
    assert f"exported version {version} to ONNX" in copy.stdout
    assert out.read_bytes() == (tmp_path / "model" / "model.onnx").read_bytes()

    # int8: published as a new version; on the demo model its forecasts stay within 2 %
    q = thunder("export", "--quantize", "int8", "--config", str(config), cwd=tmp_path)
    assert q.returncode == 0, q.stderr
    assert "published as version" in q.stdout
    assert "WARNING" not in q.stderr, "onnxruntime's quantiser advice stays out of the CLI"
    history = DATA["data"]
    windows = [history[i : i + 24] for i in range(len(history) - 24 + 1)]
    want, got = _many(config, "torch", windows), _many(config, "onnx", windows)
    rel = np.abs(got - want).mean() / np.abs(want).mean()
    assert 0 < rel < 0.02, rel


def test_a_version_without_onnx_falls_back_to_torch_or_says_what_to_do(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(small_config(tmp_path)))
    assert train_demo(config, cwd=tmp_path).returncode == 0
    settings = load_settings(str(config))
    store = FilesystemArtifactStore(paths.artifact_dir(settings))
    files = [settings.model_path, settings.preprocessor_path, paths.card_path(settings)]
    store.publish(dict(store.load(files).files))  # as a run without the onnx extra writes it

    assert Container(settings=settings).load_model()().model_file == "model.pth"
    no_onnx = thunder("serve", "--backend", "onnx", "--config", str(config), cwd=tmp_path)
    assert no_onnx.returncode == 1
    assert no_onnx.stderr.count("\n") == 1, no_onnx.stderr
    assert "has no 'model.onnx': export it with `thunder export --format onnx`" in no_onnx.stderr


def _many(config: Path, backend: str, windows: list[list[dict[str, object]]]) -> np.ndarray:
    settings = load_settings(str(config))
    serving = settings.serving_config.model_copy(update={"backend": backend})
    container = Container(settings=settings.model_copy(update={"serving_config": serving}))
    model = container.load_model()()
    rows = model.batch(windows).as_json(model.card.columns.time or "timestamp")
    return np.array([[row["meantemp"] for row in series] for series in rows])
