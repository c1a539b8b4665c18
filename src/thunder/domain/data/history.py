"""Turn a /predict body into model input: records (as `df.to_dict(orient="records")` gives
them) or columns (one array per column, as a caller holding arrays sends them).

Pure Python and numpy: every row and column a client sent is checked, and the first bad one is
named. A column of plain finite numbers takes a vectorised path; the value-by-value check runs
only to name what is wrong.
"""

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import cast

import numpy as np

from thunder.domain.data.calendar import calendar_values, parse_times
from thunder.domain.errors import InvalidHistory
from thunder.domain.values import FLOAT32_MAX, Columns, FloatArray

Record = Mapping[str, object]
Columnar = Mapping[str, Sequence[object]]  # {column: values, oldest first}, all one length
History = Sequence[Record] | Columnar

_MISSING = object()


def _shown(value: object, limit: int = 40) -> str:
    """repr() for a message, cut short: a client may send a megabyte where a number belongs."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def history_length(history: History) -> int:
    if isinstance(history, Mapping):
        return len(next(iter(history.values()), ()))
    return len(history)


def column_tail(history: History, name: str, rows: int) -> list[object]:
    """The last `rows` values of one column (_MISSING where a record lacks it)."""
    if isinstance(history, Mapping):
        if name not in history:
            raise InvalidHistory(f"no column '{name}'", field=f"columns.{name}")
        return list(history[name][len(history[name]) - rows :])
    return [r.get(name, _MISSING) for r in history[len(history) - rows :]]


def history_matrix(history: History, columns: Sequence[str], rows: int) -> FloatArray:
    """The last `rows` rows as a [rows, len(columns)] float32 matrix."""
    have = history_length(history)
    if have < rows:
        raise InvalidHistory(
            f"need at least {rows} rows of history (past_steps), got {have}", field="data"
        )
    out = np.empty((rows, len(columns)), dtype=np.float32)
    for c, name in enumerate(columns):
        values = column_tail(history, name, rows)
        numbers = _numbers(values) if _plain(values) else None
        out[:, c] = numbers if numbers is not None else _checked(history, name, values)
    return out


def _plain(values: list[object]) -> bool:
    """Only ints and floats (bool is an int to Python, not to us)."""
    return all(type(v) is float or type(v) is int for v in values)


def _numbers(values: list[object]) -> "np.ndarray[tuple[int], np.dtype[np.float64]] | None":
    """The fast path; None sends the values to `_checked`, which names the bad one."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an int beyond float64
        return None
    if not np.isfinite(arr).all() or (np.abs(arr) > FLOAT32_MAX).any():
        return None
    return arr


def _checked(
    history: History, name: str, values: list[object]
) -> "np.ndarray[tuple[int], np.dtype[np.float64]]":
    """Value by value: the first value that is not a finite float32 number raises, named."""
    first = history_length(history) - len(values)
    columnar = isinstance(history, Mapping)
    out = np.empty(len(values), dtype=np.float64)
    for r, value in enumerate(values):
        row = first + r
        field = f"columns.{name}[{row}]" if columnar else f"data[{row}].{name}"
        if value is _MISSING:
            raise InvalidHistory(f"row {row} has no column '{name}'", field=field)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidHistory(
                f"row {row}, column '{name}': {_shown(value)} is not a number", field=field
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidHistory(
                f"row {row}, column '{name}': {value!r} is not a finite number", field=field
            )
        # int or float, compared exactly: a 1000-digit integer is too large, not a crash
        if abs(value) > FLOAT32_MAX:
            raise InvalidHistory(
                f"row {row}, column '{name}': {_shown(value)} is outside the float32 range the "
                f"model computes in (magnitude up to {FLOAT32_MAX:.4g})",
                field=field,
            )
        out[r] = value
    return out


def model_inputs(history: History, cols: Columns, rows: int) -> FloatArray:
    """The model's inputs over the last `rows` rows, [rows, len(cols.inputs)]: the file's
    columns as sent, then the calendar features computed from the time column."""
    derived = cols.derived
    x = history_matrix(history, cols.inputs[: len(cols.inputs) - len(derived)], rows)
    if not derived:
        return x
    assert cols.time is not None  # a model with calendar features was trained with one
    first = history_length(history) - rows
    stamps = [None if v is _MISSING else v for v in column_tail(history, cols.time, rows)]
    times = parse_times(stamps, cols.time, first)
    return np.concatenate([x, calendar_values(times, cols.calendar)], axis=1)


def future_timestamps(history: History, column: str | None, steps: int) -> list[str] | None:
    """Timestamps of the next `steps` rows, when the history has a regular time column.

    The step is the spacing of the last rows; the output keeps the input's format (date-only in,
    date-only out). Irregular or unparsable times give None: the forecast is still valid.
    """
    if column is None or history_length(history) < 2:
        return None
    try:
        raw = tuple(column_tail(history, column, min(3, history_length(history))))
    except InvalidHistory:  # no time column: the forecast has no timestamps, nothing else
        return None
    if not all(isinstance(v, str) for v in raw):
        return None
    out = _continued(cast(tuple[str, ...], raw), steps)
    return None if out is None else list(out)


@functools.lru_cache(maxsize=4096)
def _continued(raw: tuple[str, ...], steps: int) -> tuple[str, ...] | None:
    """The series of timestamps `raw` ends, continued for `steps` more. Cached: the series of a
    batch request often share their calendar, and parsing it again for each costs more than
    its forecast."""
    try:
        times = [datetime.fromisoformat(v) for v in raw]
    except ValueError:
        return None
    deltas = {b - a for a, b in itertools.pairwise(times)}
    if len(deltas) != 1:
        return None
    step: timedelta = deltas.pop()
    if step <= timedelta(0):
        return None
    date_only = len(raw[-1]) == 10
    out = []
    for k in range(1, steps + 1):
        t = times[-1] + k * step
        out.append(t.date().isoformat() if date_only else t.isoformat(sep=" "))
    return tuple(out)
