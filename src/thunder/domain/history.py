"""Turn a /predict body (records as `df.to_dict(orient="records")` gives them) into model input.

Pure Python: it checks every row and column a client sent and names the first bad one.
"""

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import cast

import numpy as np

from thunder.domain.calendar import calendar_values, parse_times
from thunder.domain.errors import InvalidHistory
from thunder.domain.values import Columns, FloatArray

Record = Mapping[str, object]


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _shown(value: object, limit: int = 40) -> str:
    """repr() for a message, cut short: a client may send a megabyte where a number belongs."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def history_matrix(records: Sequence[Record], columns: Sequence[str], rows: int) -> FloatArray:
    """The last `rows` records as a [rows, len(columns)] float32 matrix."""
    if len(records) < rows:
        raise InvalidHistory(
            f"need at least {rows} rows of history (past_steps), got {len(records)}", field="data"
        )
    tail = records[len(records) - rows :]
    first = len(records) - rows
    out = np.empty((rows, len(columns)), dtype=np.float32)
    for r, record in enumerate(tail):
        for c, name in enumerate(columns):
            field = f"data[{first + r}].{name}"
            if name not in record:
                raise InvalidHistory(f"row {first + r} has no column '{name}'", field=field)
            value = record[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidHistory(
                    f"row {first + r}, column '{name}': {_shown(value)} is not a number",
                    field=field,
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidHistory(
                    f"row {first + r}, column '{name}': {value!r} is not a finite number",
                    field=field,
                )
            # int or float, compared exactly: a 1000-digit integer is too large, not a crash
            if abs(value) > FLOAT32_MAX:
                raise InvalidHistory(
                    f"row {first + r}, column '{name}': {_shown(value)} is outside the float32 "
                    f"range the model computes in (magnitude up to {FLOAT32_MAX:.4g})",
                    field=field,
                )
            out[r, c] = value
    return out


def model_inputs(records: Sequence[Record], cols: Columns, rows: int) -> FloatArray:
    """The model's inputs over the last `rows` records, [rows, len(cols.inputs)]: the file's
    columns as sent, then the calendar features computed from the time column."""
    derived = cols.derived
    x = history_matrix(records, cols.inputs[: len(cols.inputs) - len(derived)], rows)
    if not derived:
        return x
    assert cols.time is not None  # a model with calendar features was trained with one
    first = len(records) - rows
    times = parse_times([r.get(cols.time) for r in records[first:]], cols.time, first)
    return np.concatenate([x, calendar_values(times, cols.calendar)], axis=1)


def future_timestamps(
    records: Sequence[Record], column: str | None, steps: int
) -> list[str] | None:
    """Timestamps of the next `steps` rows, when the history has a regular time column.

    The step is the spacing of the last rows; the output keeps the input's format (date-only in,
    date-only out). Irregular or unparsable times give None: the forecast is still valid.
    """
    if column is None or len(records) < 2:
        return None
    raw = tuple(records[i].get(column) for i in range(max(0, len(records) - 3), len(records)))
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
