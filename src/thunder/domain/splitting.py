"""Split rows by position into train/val/test, and say which windows each split owns.

A window belongs to the split that holds all of its target rows; its input rows may reach back
into the previous split (the usual convention for val/test windows, so none is lost at a border).
"""

from thunder.domain.errors import NotEnoughData
from thunder.domain.values import SplitPlan, WindowSpec


def plan_split(rows: int, train_ratio: float, val_ratio: float, window: WindowSpec) -> SplitPlan:
    train_end = int(rows * train_ratio)
    val_end = int(rows * (train_ratio + val_ratio))
    plan = SplitPlan(
        rows=rows,
        train=range(0, train_end),
        val=range(train_end, val_end),
        test=range(val_end, rows),
    )
    for name in ("train", "test"):
        if len(origins(getattr(plan, name), window)) == 0:
            part: range = getattr(plan, name)
            raise NotEnoughData(
                f"the data has {rows} rows, which leaves the {name} split (rows {part.start}"
                f"-{part.stop}) without one window of past_steps={window.past_steps} + "
                f"future_steps={window.future_steps}; add rows or change split_config",
                field=f"preprocessing_config.split_config.{name}_ratio",
            )
    return plan


def origins(part: range, window: WindowSpec) -> range:
    """Rows at which a forecast of this split starts (the first target row of each window)."""
    first = max(part.start, window.past_steps)
    last = part.stop - window.future_steps  # inclusive
    return range(first, max(first, last + 1))
