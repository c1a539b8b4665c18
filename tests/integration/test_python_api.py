"""The Python API on the real adapters: `thunder.train` publishes what the CLI serves and
evaluates, `thunder.load` forecasts what /predict answers, and a path, a DataFrame and a
one-shot reader of the same rows train to the same test metrics."""

import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

import thunder
from tests.conftest import DEMO_CSV, ROOT, flat, small_config
from tests.integration.conftest import Workspace, start_serve, stop, wait_http
from tests.integration.conftest import thunder as cli

pytestmark = pytest.mark.integration

HISTORY = pd.DataFrame(json.loads((ROOT / "examples" / "data.json").read_text())["data"])


def workspace(root: Path) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "config.json"
    config.write_text(json.dumps(small_config(root)))
    return Workspace(root, config)


@pytest.fixture(scope="module")
def from_python(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Workspace, "thunder.TrainingRun"]:
    """One `thunder.train` on the demo CSV's path, as a notebook runs it."""
    work = workspace(tmp_path_factory.mktemp("python"))
    return work, thunder.train(DEMO_CSV, str(work.config), chunk_size=500)


def test_a_path_a_dataframe_and_a_csv_reader_train_to_the_same_test_metrics(
    from_python: tuple[Workspace, "thunder.TrainingRun"],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    _, run = from_python
    assert run.report.test is not None
    expected = flat(run.report.as_dict()["test"])
    for shape, data in (
        ("frame", pd.read_csv(DEMO_CSV)),
        ("reader", pd.read_csv(DEMO_CSV, chunksize=300)),  # a one-shot iterator of frames
    ):
        cfg = thunder.load_config(workspace(tmp_path / shape).config)
        report = thunder.train(data, cfg, chunk_size=500).report
        assert report.data.rows == 1462
        assert flat(report.as_dict()["test"]) == pytest.approx(expected, rel=1e-6), shape
    assert capfd.readouterr() == ("", "")  # nothing printed unless asked


def test_the_model_it_loads_is_the_version_it_published(
    from_python: tuple[Workspace, "thunder.TrainingRun"],
) -> None:
    work, run = from_python
    model = thunder.load(thunder.load_config(work.config))
    assert model.version == run.version == run.load().version
    out = model.predict(HISTORY)
    assert list(out.columns) == ["step", "date", "meantemp"]
    assert out["date"].iloc[0] == "2017-01-02"  # the day after the history's last row
    assert len(out) == 12 and out["meantemp"].between(0, 45).all()


def test_the_cli_serves_and_evaluates_what_python_trained(
    from_python: tuple[Workspace, "thunder.TrainingRun"], tmp_path: Path
) -> None:
    work, run = from_python
    model = run.load()
    proc, url = start_serve(work, tmp_path / "serve.log")
    try:
        wait_http(url + "/", proc)
        answer = httpx.post(url + "/predict", json={"data": HISTORY.to_dict("records")}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert httpx.get(url + "/", timeout=10).json()["model"]["artifact_version"] == run.version
    finally:
        stop(proc)
    _same_rows(model.predict(HISTORY), answer.json()["predictions"])

    done = cli(
        "evaluate", "--input", str(DEMO_CSV), "--config", str(work.config),
        "--out", str(tmp_path / "cli"), cwd=work.root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    mine = model.evaluate(DEMO_CSV, tmp_path / "python")
    written = json.loads((tmp_path / "python" / "metrics.json").read_text())
    assert written == mine.report.as_dict()
    by_cli = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert flat(written) == pytest.approx(flat(by_cli), rel=1e-6)


def test_thunder_load_forecasts_what_the_server_of_a_chunk_run_answers(
    trained: Workspace, api: str
) -> None:
    """`thunder chunk` trained it, `thunder serve` serves it: Python reads the same version."""
    model = thunder.load(str(trained.config))
    answer = httpx.post(api + "/predict", json={"data": HISTORY.to_dict("records")}, timeout=10)
    assert answer.status_code == 200, answer.text
    _same_rows(model.predict(HISTORY), answer.json()["predictions"])
    histories = {"a": HISTORY, "b": HISTORY.iloc[:-3]}
    batch = httpx.post(
        api + "/predict/batch",
        json={"series": [{"id": k, "data": h.to_dict("records")} for k, h in histories.items()]},
        timeout=10,
    ).json()["forecasts"]
    for (key, out), served in zip(model.predict_many(histories).items(), batch, strict=True):
        assert served["id"] == key
        _same_rows(out, served["predictions"])


def _same_rows(frame: pd.DataFrame, rows: list[dict[str, object]]) -> None:
    ours = frame.to_dict(orient="records")
    assert [list(r) for r in ours] == [list(r) for r in rows]
    for mine, theirs in zip(ours, rows, strict=True):
        assert mine == pytest.approx(theirs, rel=1e-6)


class Linear(torch.nn.Module):
    """A researcher's own network: one linear map from the window to the horizon."""

    def __init__(self, past: int, features: int, future: int, targets: int) -> None:
        super().__init__()
        self.shape = (future, targets)
        self.map = torch.nn.Linear(past * features, future * targets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.map(x.flatten(1))  # [B, past * F] -> [B, future * T]
        return out.view(-1, *self.shape)  # [B, future, T]


def test_a_custom_architecture_trains_out_of_core_and_is_served_without_its_class(
    tmp_path: Path,
) -> None:
    work = workspace(tmp_path / "custom")
    cfg = thunder.load_config(work.config)
    window, columns = cfg.window, cfg.columns(None)
    net = Linear(window.past_steps, len(columns.inputs), window.future_steps, len(columns.targets))
    module = thunder.ThunderModule(
        net, torch.nn.L1Loss(), optimizer=torch.optim.Adam(net.parameters(), lr=1e-2)
    )
    epochs: list[int] = []

    class Epochs(pl.Callback):
        def on_train_epoch_end(self, trainer: pl.Trainer, _: pl.LightningModule) -> None:
            epochs.append(trainer.current_epoch)

    # 1462 rows read 200 at a time: the file never sits in memory whole
    run = thunder.train(DEMO_CSV, cfg, chunk_size=200, module=module, callbacks=[Epochs()])
    assert run.report.data.rows == 1462 and epochs == [0]
    assert run.report.test is not None and run.report.test.model["meantemp"]["mae"] > 0

    model = run.load()
    architecture = model.card.config["model_config"]["architecture"]
    assert architecture == "custom: tests.integration.test_python_api.Linear"
    forecast = model.predict(HISTORY)
    del Linear.forward  # the server and thunder.load run the saved program, not this class
    try:
        again = thunder.load(cfg).predict(HISTORY)
    finally:
        Linear.forward = _linear_forward  # type: ignore[method-assign]
    pd.testing.assert_frame_equal(again, forecast)
    proc, url = start_serve(work, tmp_path / "serve.log")
    try:
        wait_http(url + "/", proc)
        answer = httpx.post(url + "/predict", json={"data": HISTORY.to_dict("records")}, timeout=10)
        assert answer.status_code == 200, answer.text
    finally:
        stop(proc)
    _same_rows(forecast, answer.json()["predictions"])


_linear_forward = Linear.forward


def test_a_loaded_models_lightning_module_predicts_in_the_datas_units(
    from_python: tuple[Workspace, "thunder.TrainingRun"],
) -> None:
    _, run = from_python
    model = run.load()
    cols, past = model.columns, model.window.past_steps
    window = torch.tensor(HISTORY[list(cols.inputs)].tail(past).to_numpy(), dtype=torch.float32)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    loader = DataLoader(TensorDataset(window[None]))  # one window, in the data's units
    (out,) = trainer.predict(model.module(), loader)  # type: ignore[misc]
    assert out.shape == (1, 12, 1, 1)
    np.testing.assert_allclose(
        out[0, :, 0, 0].numpy(), model.predict(HISTORY)["meantemp"], rtol=1e-4
    )
