import numpy as np
import pytest

from thunder.domain.data.splitting import origins, plan_split, rows_of, split_origins
from thunder.domain.errors import NotEnoughData
from thunder.domain.values import Chunk, WindowSpec


def test_splits_rows_by_position_without_overlap() -> None:
    plan = plan_split({0: 1462}, 0.7, 0.15, WindowSpec(24, 12))
    split = plan.series[0]
    assert (split.train, split.val, split.test) == (
        range(0, 1023),
        range(1023, 1242),
        range(1242, 1462),
    )
    assert (plan.rows, plan.rows_in("val")) == (1462, 219)


def test_val_and_test_windows_take_their_inputs_from_the_rows_before_them() -> None:
    spec = WindowSpec(24, 12)
    assert origins(range(1023, 1242), spec) == range(1023, 1231)
    assert origins(range(0, 1023), spec) == range(24, 1012)


def test_every_target_row_of_a_window_lies_in_its_split() -> None:
    spec = WindowSpec(5, 3)
    part = range(10, 30)
    for o in origins(part, spec):
        assert part.start <= o and o + spec.future_steps <= part.stop


def test_an_eval_stride_keeps_every_kth_origin() -> None:
    assert list(origins(range(100, 130), WindowSpec(24, 12), stride=6)) == [100, 106, 112, 118]


@pytest.mark.parametrize("rows", [0, 10, 40])
def test_too_few_rows_for_a_test_window_is_an_error_naming_the_split(rows: int) -> None:
    with pytest.raises(NotEnoughData, match="split"):
        plan_split({0: rows}, 0.7, 0.15, WindowSpec(24, 12))


def test_empty_validation_split_is_allowed() -> None:
    plan = plan_split({0: 200}, 0.8, 0.0, WindowSpec(10, 5))
    assert split_origins(plan, "val", WindowSpec(10, 5)) == {}


def test_each_series_is_split_with_the_same_ratios() -> None:
    plan = plan_split({0: 100, 1: 200}, 0.5, 0.25, WindowSpec(4, 2), names=("a", "b"))
    assert plan.series[1].val == range(100, 150)
    assert plan.rows_in("train") == 150


def test_a_series_shorter_than_one_window_is_named() -> None:
    with pytest.raises(NotEnoughData, match="series 'b' has 5 rows"):
        plan_split({0: 100, 1: 5}, 0.7, 0.15, WindowSpec(4, 2), names=("a", "b"))


def test_rows_of_a_split_come_series_by_series_from_interleaved_chunks() -> None:
    codes = np.array([0, 1, 0, 1, 0, 1, 0, 1, 1, 1])
    values = np.arange(10, dtype=np.float32)[:, None]
    chunks = [Chunk(s, values[s : s + 3], codes[s : s + 3]) for s in range(0, 10, 3)]
    plan = plan_split({0: 4, 1: 6}, 0.5, 0.0, WindowSpec(1, 1), names=("a", "b"))
    got = np.concatenate(list(rows_of(chunks, plan, "train")))[:, 0]
    # series a: rows 0, 2 (first half of 4); series b: rows 1, 3, 5 (first half of 6)
    assert sorted(got.tolist()) == [0, 1, 2, 3, 5]
