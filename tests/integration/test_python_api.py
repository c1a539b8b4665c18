"""The Python API on the real adapters: `thunder.train` publishes what the CLI serves and
evaluates, `thunder.load` forecasts what /predict answers, and a path, a DataFrame and a
one-shot reader of the same rows train to the same test metrics."""

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest

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
