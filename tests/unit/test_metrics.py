import numpy as np
import pytest

from thunder.domain.metrics import ErrorAccumulator, infer_season, naive_scale, seasonal_naive
from thunder.domain.splitting import plan_split
from thunder.domain.values import Chunk, WindowSpec


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
