import pytest

from thunder.domain.errors import NotEnoughData
from thunder.domain.splitting import origins, plan_split
from thunder.domain.values import WindowSpec


def test_splits_rows_by_position_without_overlap() -> None:
    plan = plan_split(1462, 0.7, 0.15, WindowSpec(24, 12))
    assert (plan.train, plan.val, plan.test) == (
        range(0, 1023),
        range(1023, 1242),
        range(1242, 1462),
    )


def test_val_and_test_windows_take_their_inputs_from_the_rows_before_them() -> None:
    spec = WindowSpec(24, 12)
    assert origins(range(1023, 1242), spec) == range(1023, 1231)
    assert origins(range(0, 1023), spec) == range(24, 1012)


def test_every_target_row_of_a_window_lies_in_its_split() -> None:
    spec = WindowSpec(5, 3)
    part = range(10, 30)
    for o in origins(part, spec):
        assert part.start <= o and o + spec.future_steps <= part.stop


@pytest.mark.parametrize("rows", [0, 10, 40])
def test_too_few_rows_for_a_test_window_is_an_error_naming_the_split(rows: int) -> None:
    with pytest.raises(NotEnoughData, match="split"):
        plan_split(rows, 0.7, 0.15, WindowSpec(24, 12))


def test_empty_validation_split_is_allowed() -> None:
    plan = plan_split(200, 0.8, 0.0, WindowSpec(10, 5))
    assert len(plan.val) == 0 and len(origins(plan.val, WindowSpec(10, 5))) == 0
