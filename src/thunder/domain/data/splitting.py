"""Split each series by position into train/val/test, and say which windows each split owns.

A window belongs to the split that holds all of its target rows; its input rows may reach back
into the previous split (the usual convention for val/test windows, so none is lost at a border).
Every series is split with the same ratios, so each contributes to every split in proportion.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from thunder.domain.data.series import positioned
from thunder.domain.errors import NotEnoughData
from thunder.domain.values import Chunk, FloatArray, SeriesSplit, SplitPlan, WindowSpec

PARTS = ("train", "val", "test")


def split_series(rows: int, train_ratio: float, val_ratio: float) -> SeriesSplit:
    train_end = int(rows * train_ratio)
    val_end = int(rows * (train_ratio + val_ratio))
    return SeriesSplit(
        rows=rows,
        train=range(0, train_end),
        val=range(train_end, val_end),
        test=range(val_end, rows),
    )


def plan_split(
    counts: Mapping[int, int],
    train_ratio: float,
    val_ratio: float,
    window: WindowSpec,
    names: Sequence[str] = (),
) -> SplitPlan:
    """`counts` maps series code -> rows. One series: the old single-file behaviour."""
    multi = len(counts) > 1 or bool(names)
    for code, rows in counts.items():
        if multi and rows < window.length:
            name = names[code] if code < len(names) else str(code)
            raise NotEnoughData(
                f"series '{name}' has {rows} rows, fewer than one window of past_steps="
                f"{window.past_steps} + future_steps={window.future_steps}; drop it or shorten "
                f"the window",
                field="preprocessing_config.split_config.past_steps",
            )
    plan = SplitPlan({c: split_series(n, train_ratio, val_ratio) for c, n in counts.items()})
    for name in ("train", "test"):
        if windows_in(plan, name, window, stride=1) == 0:
            what = f"the data has {plan.rows} rows, which leaves the {name} split"
            if not multi and plan.series:
                part: range = getattr(next(iter(plan.series.values())), name)
                what += f" (rows {part.start + 1}-{part.stop})" if part else " (no rows)"
            elif multi:
                what = f"the {len(counts)} series leave the {name} split"
            raise NotEnoughData(
                f"{what} without one window of past_steps={window.past_steps} + "
                f"future_steps={window.future_steps}; add rows or change split_config",
                field=f"preprocessing_config.split_config.{name}_ratio",
            )
    return plan


def origins(part: range, window: WindowSpec, stride: int = 1) -> range:
    """Positions at which a forecast of this split starts (the first target row of each window)."""
    first = max(part.start, window.past_steps)
    last = part.stop - window.future_steps  # inclusive
    return range(first, max(first, last + 1), stride)


def split_origins(
    plan: SplitPlan, part: str, window: WindowSpec, stride: int = 1
) -> dict[int, range]:
    """Series code -> the origins of `part` in that series (series without any are left out)."""
    out = {}
    for code, split in plan.series.items():
        wanted = origins(getattr(split, part), window, stride)
        if len(wanted):
            out[code] = wanted
    return out


def windows_in(plan: SplitPlan, part: str, window: WindowSpec, stride: int = 1) -> int:
    return sum(len(r) for r in split_origins(plan, part, window, stride).values())


def rows_of(chunks: Iterable[Chunk], plan: SplitPlan, part: str) -> Iterator[FloatArray]:
    """From each chunk, the rows of `part` (series by series); stops reading once every series
    is past its `part`."""
    seen: dict[int, int] = {}
    pending = {code for code, s in plan.series.items() if len(getattr(s, part))}
    for chunk in chunks:
        if not pending:
            return
        pieces = []
        for code, values, start in positioned(chunk, seen):
            if code not in pending:
                continue
            wanted: range = getattr(plan.series[code], part)
            pieces.append(values[max(wanted.start - start, 0) : max(wanted.stop - start, 0)])
            if seen[code] >= wanted.stop:
                pending.discard(code)
        if pieces:
            yield pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
