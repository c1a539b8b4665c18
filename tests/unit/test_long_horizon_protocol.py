"""The long-horizon benchmark scores the windows the field scores, and its linear baseline is the
published one."""

import numpy as np
import pytest

from benchmarks import linear_baseline
from benchmarks.long_horizon import ETTH1, Split, load, standard_split
from thunder.domain.data.splitting import plan_split, split_origins
from thunder.domain.values import WindowSpec


def test_ett_hourly_is_cut_to_twenty_months_split_twelve_four_four() -> None:
    assert standard_split("ETTh1.csv", 17420) == Split(8640, 2880, 2880)
    assert standard_split("ETTm2.csv", 69680) == Split(34560, 11520, 11520)


def test_other_files_split_seventy_ten_twenty_as_published_loaders_do() -> None:
    # Autoformer's loader: train int(0.7 n), test int(0.2 n), val the rest
    assert standard_split("weather.csv", 52696) == Split(36887, 5270, 10539)


def test_too_short_an_ett_file_is_refused() -> None:
    with pytest.raises(SystemExit, match="needs 14400"):
        standard_split("ETTh1.csv", 10000)


def test_window_counts_are_the_standard_ones() -> None:
    split = standard_split("ETTh1.csv", 17420)
    assert len(split.origins("test", 336, 96)) == 2785
    assert len(split.origins("val", 336, 96)) == 2785
    assert len(split.origins("train", 336, 96)) == 8640 - 336 - 96 + 1
    assert len(split.origins("test", 512, 720)) == 2880 - 720 + 1


@pytest.mark.parametrize(
    ("name", "rows", "context", "horizon"),
    [
        ("ETTh1.csv", 14400, 336, 96),
        ("ETTh1.csv", 14400, 720, 720),
        ("ETTm1.csv", 57600, 512, 192),
        ("weather.csv", 52696, 336, 336),
        ("electricity.csv", 26304, 96, 720),
        ("exchange.csv", 7588, 96, 96),
    ],
)
def test_thunders_split_of_the_ratios_gives_exactly_the_protocols_windows(
    name: str, rows: int, context: int, horizon: int
) -> None:
    split = standard_split(name, rows)
    plan = plan_split({0: split.rows}, *split.ratios(), WindowSpec(context, horizon))
    for part in ("train", "val", "test"):
        assert split_origins(plan, part, WindowSpec(context, horizon))[0] == split.origins(
            part, context, horizon
        ), part


def test_the_linear_baseline_forecasts_a_noise_free_trend_exactly() -> None:
    z = np.outer(np.arange(400.0), [0.1, -0.3]) + np.array([1.0, 5.0])  # two straight lines
    split = Split(300, 50, 50)
    w = linear_baseline.fit(z, split.origins("train", 48, 12), 48, 12)
    errors = linear_baseline.score(w, z, split.origins("test", 48, 12), 48, 12)
    assert errors.count == 2 * 12 * len(split.origins("test", 48, 12))
    assert errors.mse < 1e-12


def test_the_linear_baseline_reproduces_the_published_nlinear_row() -> None:
    # NLinear, ETTh1, setting M, context 336, horizon 96: MSE 0.374, MAE 0.394 (Zeng et al. 2023)
    data = load(ETTH1, "M", None)
    split = data.split
    z = data.scaled()
    w = linear_baseline.fit(z, split.origins("train", 336, 96), 336, 96)
    errors = linear_baseline.score(w, z, split.origins("test", 336, 96), 336, 96)
    assert abs(errors.mse - 0.374) < 0.01
    assert abs(errors.mae - 0.394) < 0.01
