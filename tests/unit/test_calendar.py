import numpy as np
import pytest

from thunder.domain.data.calendar import calendar_values, parse_times
from thunder.domain.data.history import model_inputs
from thunder.domain.errors import InvalidHistory
from thunder.domain.values import Columns


def ns(*stamps: str) -> np.ndarray:
    return np.array(stamps, dtype="datetime64[ns]").astype(np.int64)


def angle(values: np.ndarray, k: int) -> np.ndarray:
    """The position in the period, in [0, 1), from the k-th sin/cos pair."""
    return (np.arctan2(values[:, 2 * k], values[:, 2 * k + 1]) / (2 * np.pi)) % 1.0


def test_each_feature_is_its_position_in_the_period() -> None:
    # Monday 2024-01-01 06:00; Thursday 2024-07-04 18:00
    t = ns("2024-01-01T06:00", "2024-07-04T18:00")
    v = calendar_values(t, ["hour", "day_of_week", "day_of_year", "month"])
    assert v.shape == (2, 8)
    np.testing.assert_allclose(angle(v, 0), [6 / 24, 18 / 24], atol=1e-6)
    np.testing.assert_allclose(angle(v, 1), [(0 + 0.25) / 7, (3 + 0.75) / 7], atol=1e-6)
    np.testing.assert_allclose(angle(v, 2), [0.25 / 365.25, (185 + 0.75) / 365.25], atol=1e-6)
    np.testing.assert_allclose(angle(v, 3), [0 / 12, 6 / 12], atol=1e-6)


def test_the_pairs_wrap_around_midnight_and_new_year() -> None:
    late, early = calendar_values(ns("2023-12-31T23:00", "2024-01-01T00:00"), ["hour"])
    assert np.linalg.norm(late - early) < 0.3  # one hour apart, not 23
    dec31, jan1 = calendar_values(ns("2023-12-31", "2024-01-01"), ["day_of_year"])
    assert np.linalg.norm(dec31 - jan1) < 0.05


def test_served_inputs_add_the_calendar_columns_after_the_file_columns() -> None:
    cols = Columns(
        inputs=("y", "hour_sin", "hour_cos"), targets=("y",), time="ds", calendar=("hour",)
    )
    records = [{"ds": f"2024-01-01 {h:02d}:00:00", "y": float(h)} for h in range(5)]
    x = model_inputs(records, cols, 3)
    assert x.shape == (3, 3)
    np.testing.assert_array_equal(x[:, 0], [2.0, 3.0, 4.0])
    np.testing.assert_allclose(
        x[:, 1:], calendar_values(ns(*(r["ds"] for r in records[2:])), ["hour"])
    )


@pytest.mark.parametrize(
    ("value", "needle"), [(None, "None is not a timestamp"), ("tuesday", "not an ISO 8601")]
)
def test_a_bad_timestamp_names_its_row(value: object, needle: str) -> None:
    with pytest.raises(InvalidHistory, match=f"row 7, column 'ds': .*{needle}"):
        parse_times(["2024-01-01", value], "ds", 6)
