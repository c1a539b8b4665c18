import numpy as np
import pytest

from thunder.domain.data.splitting import plan_split
from thunder.domain.scoring.metrics import (
    CoverageAccumulator,
    ErrorAccumulator,
    infer_season,
    naive_scale,
    seasonal_naive,
)
from thunder.domain.values import Chunk, WindowSpec, level_name


def test_smape_and_mase_by_hand() -> None:
    acc = ErrorAccumulator(["y"])
    forecast = np.array([[[110.0], [0.0]]], dtype=np.float32)  # [1 window, 2 steps, 1 target]
    actual = np.array([[[100.0], [0.0]]], dtype=np.float32)
    acc.add(forecast, actual)
    stats = acc.result({"y": 2.5})["y"]
    assert stats.mae == pytest.approx(5.0)
    # step 1: 2*10/210; step 2: 0/0 counts as a perfect forecast
    assert stats.smape == pytest.approx(100 * (20 / 210) / 2)
    assert stats.mase == pytest.approx(2.0)
    assert "mase" not in acc.result()["y"].as_dict()


def test_seasonal_naive_repeats_the_last_season() -> None:
    history = np.arange(10, dtype=np.float32).reshape(1, 10, 1)
    assert seasonal_naive(history, 5, 3)[0, :, 0].tolist() == [7, 8, 9, 7, 8]
    assert seasonal_naive(history, 3, 1)[0, :, 0].tolist() == [9, 9, 9]


def test_the_naive_scale_uses_train_rows_of_each_series_across_chunks() -> None:
    # series 0: 0, 1, 3, 6, ... (diffs 1, 2, 3, ...); series 1 constant: diff 0
    values = np.array([0, 5, 1, 5, 3, 5, 6, 5, 10, 5], dtype=np.float32)[:, None]
    codes = np.array([0, 1] * 5)
    chunks = [Chunk(s, values[s : s + 3], codes[s : s + 3]) for s in range(0, 10, 3)]
    plan = plan_split({0: 5, 1: 5}, 0.8, 0.0, WindowSpec(1, 1), names=("a", "b"))
    # train: first 4 rows of each series -> a: 0,1,3,6 (diffs 1,2,3), b: 5,5,5,5 (0,0,0)
    assert naive_scale(chunks, plan, [0], ["y"]) == {"y": pytest.approx(6 / 6)}


@pytest.mark.parametrize(("step", "season"), [(3600, 24), (86400, 7), (60, None), (None, None)])
def test_the_season_follows_the_sampling_step(step: float | None, season: int | None) -> None:
    assert infer_season(step) == season


def test_coverage_counts_actuals_below_each_level_and_inside_each_central_band() -> None:
    acc = CoverageAccumulator(["y"], (0.1, 0.5, 0.9))
    # one window, 4 steps, band [-1, 1] around 0 at every step
    quantiles = np.tile(np.array([-1.0, 0.0, 1.0], dtype=np.float32), (1, 4, 1, 1))
    actual = np.array([-2.0, -0.5, 0.5, 1.0], dtype=np.float32).reshape(1, 4, 1)
    acc.add(quantiles, actual)
    assert acc.result() == {
        "y": {"q10": 0.25, "q50": 0.5, "q90": 1.0, "q10_q90": 0.75},
    }


def test_level_names_are_percentages() -> None:
    assert [level_name(a) for a in (0.1, 0.5, 0.975, 0.025)] == ["q10", "q50", "q97.5", "q2.5"]


def test_errors_by_horizon_step_average_to_the_overall_errors() -> None:
    acc = ErrorAccumulator(["y", "z"])
    actual = np.zeros((2, 3, 2), dtype=np.float32)  # [2 windows, 3 steps, 2 targets]
    forecast = np.array([1.0, 2.0, 3.0], dtype=np.float32)[None, :, None] * [[1, 10]] + actual
    acc.add(forecast[:1], actual[:1])
    acc.add(forecast[1:], actual[1:])
    steps = acc.by_step({"y": 2.0})
    assert [s.mae for s in steps["y"]] == pytest.approx([1, 2, 3])
    assert [s.mae for s in steps["z"]] == pytest.approx([10, 20, 30])
    assert [s.mase for s in steps["y"]] == pytest.approx([0.5, 1, 1.5])
    assert acc.result()["z"].mae == pytest.approx(20)
    assert acc.count == 6
