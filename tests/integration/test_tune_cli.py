"""`thunder tune` and training_config.logger "mlflow" as a user runs them: real Optuna, real
Lightning, real MLflow (its own client reads the run back)."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEMO_CSV, small_config
from tests.integration.conftest import thunder

pytestmark = pytest.mark.integration


def _config(tmp_path: Path, **training: Any) -> Path:
    """Tiny and quick: 4 batches of 256 windows an epoch, so each epoch ends in a validation."""
    cfg = small_config(tmp_path)
    cfg["training_config"] = {"epochs": 2, **training}
    cfg["preprocessing_config"]["split_config"]["batch_size"] = 256
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def _tune(config: Path, trials: int, cwd: Path) -> Any:
    args = ("--input", str(DEMO_CSV), "--size", "500", "--config", str(config))
    return thunder("tune", *args, "--trials", str(trials), cwd=cwd)


def test_tune_resumes_its_study_and_its_config_trains_with_chunk(tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = _tune(config, 2, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "2 finished trial(s), 2 run now" in first.stdout
    assert (tmp_path / "model" / "tune.db").exists()
    assert not (tmp_path / "model" / "current").exists()  # no trial published a model

    again = _tune(config, 3, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "3 finished trial(s), 1 run now" in again.stdout
    rows = [line.split()[:2] for line in again.stdout.splitlines()[2:-1]]
    assert [number for number, _ in rows] == ["0", "1", "2"]

    tuned = tmp_path / "config.tuned.json"
    assert f"-> {tuned}" in again.stdout
    best = json.loads(tuned.read_text())
    assert best["model_config"]["hidden_size"] % best["model_config"]["num_attention_heads"] == 0
    trained = thunder(
        "chunk", "--input", str(DEMO_CSV), "--size", "500", "--config", str(tuned), cwd=tmp_path
    )
    assert trained.returncode == 0, trained.stderr
    assert "published as version" in trained.stdout


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")  # mlflow's, not ours
def test_an_mlflow_logged_training_reads_back_through_mlflows_client(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    config = _config(tmp_path, logger="mlflow", experiment="demo")
    done = thunder(
        "chunk", "--input", str(DEMO_CSV), "--size", "500", "--config", str(config),
        "--report", "run.json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "run.json").read_text())
    uri = f"sqlite:///{(tmp_path / 'model' / 'mlruns.db').resolve()}"
    assert report["tracking"]["uri"] == uri
    assert f"mlflow: run {report['tracking']['run']}" in done.stdout

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("demo")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_id == report["tracking"]["run"]
    assert run.data.params["model_config.hidden_size"] == "16"
    assert run.data.params["training_config.epochs"] == "2"
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert len(history) == 2  # one per epoch
    mae = run.data.metrics["test.meantemp.mae"]
    assert mae == pytest.approx(report["test"]["meantemp"]["mae"])
    names = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "artifacts")}
    assert {"model.pth", "preprocessor.pkl", "model.card.json"} <= names
    assert run.data.tags["thunder.version"] == report["artifacts"]["version"]
