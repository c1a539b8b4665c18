"""`tune` through the container: each trial trains through the `chunk` path on fakes, with a
search kept in memory."""

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from tests.conftest import small_config
from tests.unit.conftest import climate_like, settings_from
from tests.unit.fakes import FakeChunkSource, FakeForecaster, InMemoryArtifactStore
from thunder.app import paths
from thunder.app.container import Container
from thunder.app.settings import Settings, load_settings
from thunder.app.tune import draw
from thunder.domain.errors import ConfigError
from thunder.domain.ports import Trial, WindowStream
from thunder.domain.training import NetworkConfig, TrainingOptions
from thunder.domain.tuning import Param, TrialOutcome, TrialPruned
from thunder.domain.values import FitResult, FloatArray, Prediction


class FakeTrial:
    """Trial n takes the n-th entry of each list of choices (wrapping), the n-th step of ranges."""

    def __init__(self, number: int, prune: bool) -> None:
        self._number = number
        self._prune = prune
        self.params: dict[str, Param] = {}
        self.reports: list[tuple[int, float]] = []

    @property
    def number(self) -> int:
        return self._number

    def choose(self, name: str, choices: Sequence[Param]) -> Param:
        self.params[name] = choices[self._number % len(choices)]
        return self.params[name]

    def suggest_int(self, name: str, low: int, high: int) -> int:
        value = low + self._number % (high - low + 1)
        self.params[name] = value
        return value

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        value = low + (high - low) * ((self._number * 0.37) % 1)
        self.params[name] = value
        return value

    def report(self, value: float, epoch: int) -> None:
        self.reports.append((epoch, value))

    def should_prune(self) -> bool:
        return self._prune


class FakeSearch:
    """HyperparameterSearch in memory; studies survive reopening, as a database's do."""

    def __init__(self, prune: Sequence[int] = ()) -> None:
        self.studies: dict[str, list[TrialOutcome]] = {}
        self.prune = set(prune)
        self.opened: list[tuple[str, str, int]] = []
        self._key = ""

    def open(self, storage: str, study: str, seed: int) -> "FakeSearch":
        self.opened.append((storage, study, seed))
        self._key = f"{storage}#{study}"
        return self

    def trials(self) -> list[TrialOutcome]:
        return list(self.studies.get(self._key, []))

    def run(self, objective: Callable[[Trial], float], trials: int, timeout: float | None) -> None:
        for _ in range(trials):
            done = self.studies.setdefault(self._key, [])
            trial = FakeTrial(len(done), len(done) in self.prune)
            try:
                value: float | None = objective(trial)
                state = "complete"
            except TrialPruned:
                value, state = None, "pruned"
            done.append(TrialOutcome(trial.number, state, value, trial.params, len(trial.reports)))


class ScoredForecaster(FakeForecaster):
    """Reports a val loss per epoch to the pruning hook (smaller for a wider network) and counts
    its forecasts: a trial must make none, the test split is not its business."""

    predictions = 0

    def __init__(
        self,
        *,
        network: NetworkConfig,
        options: TrainingOptions,
        module: object = None,
        start: tuple[str, bytes] | None = None,
    ) -> None:
        super().__init__((0,), 3, network=network, options=options, module=module, start=start)
        self._loss = 1.0 / network.hidden_size
        self._epoch_end = options.epoch_end

    def fit(self, train: WindowStream, val: WindowStream, **kwargs: Any) -> FitResult:
        epochs = 0
        for epoch in range(3):
            epochs += 1
            if self._epoch_end is not None and self._epoch_end(epoch, self._loss):
                break
        return FitResult(epochs, epochs, 0, 0.1, best_val_loss=self._loss)

    def predict(self, x: FloatArray) -> Prediction:
        ScoredForecaster.predictions += 1
        return super().predict(x)


@pytest.fixture
def search(container: Container) -> FakeSearch:
    fake = FakeSearch()
    container.forecaster.override(providers.Factory(ScoredForecaster))
    ScoredForecaster.predictions = 0
    return fake


def _tune(container: Container, search: FakeSearch, trials: int, out: Path) -> Any:
    tune = container.tune_hyperparameters(open_search=search.open)
    return tune(FakeChunkSource(climate_like(200), chunk_size=50), trials=trials, output=str(out))


def test_tune_writes_the_best_trials_config_ready_for_chunk(
    container: Container, search: FakeSearch, store: InMemoryArtifactStore, tmp_path: Path
) -> None:
    out = tmp_path / "config.tuned.json"
    tuned = _tune(container, search, 4, out)
    assert tuned.best.number == 3  # hidden 128: the lowest val loss
    assert [t.state for t in tuned.trials] == ["complete"] * 4
    (out).write_bytes(store.files[str(out)])
    loaded = load_settings(str(out))
    assert loaded.network.hidden_size == 128
    assert loaded.network.num_layers == tuned.best.params["num_layers"]
    assert loaded.preprocessing_config.split_config.past_steps == tuned.best.params["past_steps"]
    assert store.commits == 0  # no trial published a version
    assert ScoredForecaster.predictions == 0  # and none forecast the test split


def test_a_rerun_continues_the_study_and_counts_its_finished_trials(
    container: Container, search: FakeSearch, tmp_path: Path
) -> None:
    first = _tune(container, search, 2, tmp_path / "a.json")
    again = _tune(container, search, 3, tmp_path / "b.json")
    assert (first.ran, again.ran) == (2, 1)
    assert [t.number for t in again.trials] == [0, 1, 2]
    same = _tune(container, search, 3, tmp_path / "c.json")
    assert same.ran == 0  # nothing left to do: no trial trains again


def test_a_pruned_trial_stops_after_the_epoch_that_was_judged(
    container: Container, search: FakeSearch, tmp_path: Path
) -> None:
    search.prune = {1}
    tuned = _tune(container, search, 3, tmp_path / "out.json")
    states = {t.number: (t.state, t.epochs) for t in tuned.trials}
    assert states[1] == ("pruned", 1)
    assert states[0] == ("complete", 3)


def test_the_study_lives_beside_the_model_seeded_from_the_config(
    container: Container, search: FakeSearch, settings: Settings, tmp_path: Path
) -> None:
    _tune(container, search, 1, tmp_path / "out.json")
    storage, study, seed = search.opened[0]
    assert storage == f"sqlite:///{(paths.artifact_dir(settings) / 'tune.db').resolve()}"
    assert (study, seed) == ("thunder", settings.training_config.seed)


def test_tune_without_validation_rows_is_a_config_error(
    container: Container, search: FakeSearch, tmp_path: Path
) -> None:
    cfg = small_config(tmp_path)
    cfg["preprocessing_config"]["split_config"]["val_ratio"] = 0
    container.settings.override(settings_from(tmp_path, cfg))
    with pytest.raises(ConfigError, match="val_ratio"):
        _tune(container, search, 1, tmp_path / "out.json")


@pytest.mark.parametrize("heads", [1, 3, 4])
def test_drawn_hidden_sizes_divide_by_the_attention_heads(tmp_path: Path, heads: int) -> None:
    cfg = small_config(tmp_path)
    cfg["model_config"].update(num_attention_heads=heads, hidden_size=heads * 8)
    settings = settings_from(tmp_path, cfg)
    for n in range(8):
        params = draw(FakeTrial(n, False), settings)
        assert isinstance(params["hidden_size"], int)
        assert params["hidden_size"] % heads == 0
        assert params["past_steps"] in (12, 24, 48)  # the README's 24, halved and doubled


def test_the_tuned_config_keeps_the_users_keys_and_no_api_keys(
    container: Container, search: FakeSearch, store: InMemoryArtifactStore, tmp_path: Path
) -> None:
    cfg = small_config(tmp_path)
    cfg["model_config"]["future_steps"] = 3
    cfg["preprocessing_config"]["split_config"].update(past_steps=8, future_steps=3)
    cfg["serving_config"] = {"api_keys": ["k" * 20]}
    container.settings.override(settings_from(tmp_path, cfg))
    out = tmp_path / "tuned.json"
    _tune(container, search, 1, out)
    written = json.loads(store.files[str(out)])
    assert set(written) == set(cfg)
    assert "api_keys" not in written["serving_config"]
    assert "keep_versions" not in written  # a default stays a default
