"""Forecaster (and InferenceModel, its serving side): the naive fake and the Lightning adapter
train, forecast and save alike."""

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.contract.conftest import TrainingOptions, tiny_network
from tests.unit.fakes import FakeForecaster
from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.domain.errors import ArtifactCorrupt, NothingToResume
from thunder.domain.ports import Forecaster, InferenceModel
from thunder.domain.values import FitResult, WindowBatch

LEVELS = (0.1, 0.5, 0.9)
BATCH = 16
# a Forecaster for a network with these quantile levels; its loader
Make = Callable[[tuple[float, ...]], Forecaster]
Load = Callable[[bytes, str], InferenceModel]


def _windows(n: int, seed: int) -> list[WindowBatch]:
    """n windows of the tiny network (past 8, future 2, 2 inputs), in batches of BATCH."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 2)).astype(np.float32)  # [n, past, inputs]
    y = rng.normal(size=(n, 2, 1)).astype(np.float32)  # [n, future, targets]
    return [
        WindowBatch(x=x[i : i + BATCH], y=y[i : i + BATCH], history=x[i : i + BATCH, :, :1])
        for i in range(0, n, BATCH)
    ]


def _fake(tmp: Path) -> tuple[Make, Load]:
    def make(levels: tuple[float, ...]) -> Forecaster:
        net = tiny_network(levels)
        return FakeForecaster(net.target_inputs or (0,), net.future_steps, levels)

    return make, FakeForecaster.from_bytes


def _lightning(tmp: Path) -> tuple[Make, Load]:
    options = TrainingOptions(
        epochs=2, batch_size=BATCH, accelerator="cpu", checkpoint_dir=str(tmp / "checkpoints")
    )

    def make(levels: tuple[float, ...]) -> Forecaster:
        return LightningForecaster(tiny_network(levels), options)

    return make, LightningForecaster.from_bytes


@pytest.fixture(scope="module", params=[_fake, _lightning], ids=["fake", "lightning"])
def kind(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Make, Load]:
    maker: Callable[[Path], tuple[Make, Load]] = request.param
    return maker(tmp_path_factory.mktemp("forecaster"))


@pytest.fixture(scope="module")
def trained(kind: tuple[Make, Load]) -> tuple[Forecaster, FitResult]:
    """One fitted quantile model per kind: training is the slow part, done once."""
    model = kind[0](LEVELS)
    return model, model.fit(_windows(64, 0), _windows(32, 1), train_windows=64, run_id="r")


def test_fit_reports_its_epochs_steps_and_windows(trained: tuple[Forecaster, FitResult]) -> None:
    fit = trained[1]
    assert fit.epochs >= 1
    assert fit.steps == fit.epochs * 64 // BATCH  # one optimiser step per batch
    assert fit.windows_seen == fit.epochs * 64
    assert fit.wall_s >= 0
    assert fit.best_val_loss is None or (
        math.isfinite(fit.best_val_loss) and fit.best_val_loss >= 0
    )


def test_a_point_model_forecasts_n_by_future_by_targets(kind: tuple[Make, Load]) -> None:
    x = _windows(5, 2)[0].x
    out = kind[0](()).predict(x)
    assert out.point.shape == (5, 2, 1)
    assert out.point.dtype == np.float32
    assert np.isfinite(out.point).all()
    assert (out.levels, out.quantiles) == ((), None)


def test_no_windows_forecast_as_empty_arrays(kind: tuple[Make, Load]) -> None:
    model = kind[0](LEVELS)
    out = model.predict(np.zeros((0, 8, 2), dtype=np.float32))  # [0, past, inputs]
    assert out.point.shape == (0, 2, 1)
    assert out.quantiles is not None and out.quantiles.shape == (0, 2, 1, len(LEVELS))


def test_a_quantile_model_forecasts_ordered_levels_around_its_median(
    trained: tuple[Forecaster, FitResult],
) -> None:
    out = trained[0].predict(_windows(5, 2)[0].x)
    assert out.point.shape == (5, 2, 1)
    assert out.levels == LEVELS
    assert out.quantiles is not None and out.quantiles.shape == (5, 2, 1, len(LEVELS))
    assert (np.diff(out.quantiles, axis=-1) >= 0).all()
    np.testing.assert_array_equal(out.point, out.quantiles[..., LEVELS.index(0.5)])


def test_many_windows_forecast_as_each_window_alone(trained: tuple[Forecaster, FitResult]) -> None:
    x = _windows(6, 3)[0].x
    together = trained[0].predict(x).point
    alone = np.concatenate([trained[0].predict(x[i : i + 1]).point for i in range(len(x))])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_a_saved_model_loads_back_to_the_same_forecasts(
    kind: tuple[Make, Load], trained: tuple[Forecaster, FitResult]
) -> None:
    model = trained[0]
    loaded = kind[1](model.to_bytes(), "model.pt")
    x = _windows(5, 4)[0].x
    before, after = model.predict(x), loaded.predict(x)
    np.testing.assert_allclose(after.point, before.point, rtol=1e-5, atol=1e-6)
    assert after.levels == before.levels
    assert after.quantiles is not None and before.quantiles is not None
    np.testing.assert_allclose(after.quantiles, before.quantiles, rtol=1e-5, atol=1e-6)


def test_bytes_that_are_no_model_are_refused_as_corrupt(kind: tuple[Make, Load]) -> None:
    for blob in (b"", b"not a model", b"[1, 2]"):
        with pytest.raises(ArtifactCorrupt, match=r"model\.pt"):
            kind[1](blob, "model.pt")


def test_resuming_without_a_checkpoint_is_refused(kind: tuple[Make, Load]) -> None:
    with pytest.raises(NothingToResume, match="without --resume"):
        kind[0](()).fit(_windows(32, 0), _windows(16, 1), run_id="never-run", resume=True)
