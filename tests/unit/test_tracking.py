"""training_config.logger: the settings, the missing-extra errors, and what a published run
hands the experiment tracker."""

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from tests.conftest import small_config
from tests.unit.conftest import climate_like, settings_from
from tests.unit.fakes import FakeChunkSource, FakeForecaster, InMemoryArtifactStore
from thunder.app.container import Container
from thunder.app.settings import Settings
from thunder.app.training_options import training_options
from thunder.domain.errors import ConfigError, MissingExtra, ThunderError
from thunder.domain.ports import WindowStream
from thunder.domain.values import FitResult


class RecordingTracker:
    """ExperimentTracker keeping what it was given per run; can be told to fail."""

    uri = "memory://"

    def __init__(self, fail: bool = False) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.fail = fail

    def record(
        self,
        run: str,
        *,
        params: Mapping[str, str],
        metrics: Mapping[str, float],
        files: Mapping[str, bytes],
        tags: Mapping[str, str],
    ) -> None:
        if self.fail:
            raise ThunderError("MLflow (memory://): connection refused (simulated)")
        self.runs[run] = {"params": params, "metrics": metrics, "files": files, "tags": tags}


class LoggedForecaster(FakeForecaster):
    """A fit whose epochs went to an MLflow run, as the Lightning adapter's do."""

    def fit(self, train: WindowStream, val: WindowStream, **kwargs: Any) -> FitResult:
        done = super().fit(train, val, **kwargs)
        return FitResult(
            done.epochs, done.steps, done.windows_seen, done.wall_s, 0.0, tracking_run="run-1"
        )


@pytest.fixture
def logged(container: Container) -> Container:
    container.forecaster.override(providers.Factory(LoggedForecaster, (0,), 3))
    return container


def test_a_published_run_records_config_report_and_artifacts(
    logged: Container, settings: Settings, store: InMemoryArtifactStore
) -> None:
    tracker = RecordingTracker()
    logged.experiment_tracker.override(providers.Object(tracker))
    report = logged.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=50)).as_dict()
    run = tracker.runs["run-1"]
    assert run["params"]["model_config.hidden_size"] == "16"
    assert run["params"]["preprocessing_config.target_variables"] == '["meantemp"]'
    assert run["metrics"]["test.meantemp.mae"] == report["test"]["meantemp"]["mae"]
    assert "baselines.naive_last.meantemp.mae" in run["metrics"]
    assert set(run["files"]) == set(store.files)  # the published files, byte for byte
    assert run["tags"]["thunder.version"] == report["artifacts"]["version"]
    assert report["tracking"] == {"run": "run-1", "uri": "memory://"}


def test_a_tracker_that_fails_keeps_the_published_model(
    logged: Container, store: InMemoryArtifactStore
) -> None:
    logged.experiment_tracker.override(providers.Object(RecordingTracker(fail=True)))
    report = logged.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=50)).as_dict()
    assert store.commits == 1
    assert "tracking" not in report


def test_without_a_tracked_run_nothing_is_recorded(container: Container) -> None:
    tracker = RecordingTracker()
    container.experiment_tracker.override(providers.Object(tracker))
    report = container.train_from_chunks()(
        FakeChunkSource(climate_like(200), chunk_size=50)
    ).as_dict()
    assert tracker.runs == {}
    assert "tracking" not in report


def _settings(tmp_path: Path, **training: Any) -> Settings:
    cfg = small_config(tmp_path)
    cfg["training_config"].update(training)
    return settings_from(tmp_path, cfg)


def test_the_logger_is_csv_unless_asked(tmp_path: Path) -> None:
    options = training_options(_settings(tmp_path), False, False)
    assert (options.logger, options.tracking_uri) == ("csv", None)


def test_an_unknown_logger_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"training_config\.logger"):
        _settings(tmp_path, logger="wandb")


def test_mlflow_defaults_to_a_sqlite_file_beside_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    options = training_options(_settings(tmp_path, logger="mlflow"), False, False)
    model_dir = (tmp_path / "model").resolve()
    assert options.tracking_uri == f"sqlite:///{model_dir / 'mlruns.db'}"
    assert options.artifact_location == str(model_dir / "mlruns")


def test_the_tracking_uri_comes_from_the_config_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    from_env = training_options(_settings(tmp_path, logger="mlflow"), False, False)
    assert (from_env.tracking_uri, from_env.artifact_location) == ("http://127.0.0.1:5000", None)
    configured = _settings(tmp_path, logger="mlflow", mlflow_tracking_uri="sqlite:////x/m.db")
    assert training_options(configured, False, False).tracking_uri == "sqlite:////x/m.db"


@pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed"
)
def test_tensorboard_asked_but_not_installed_is_one_clear_error(
    container: Container, tmp_path: Path
) -> None:
    container.settings.override(_settings(tmp_path, logger="tensorboard"))
    with pytest.raises(MissingExtra, match="pip install tensorboard"):
        container.check_before_training()()
