"""pandas at the edge of the Python API: DataFrames in (training data, histories) and forecasts
out, shaped as a CSV file and the HTTP API shape them.

A frame's index that holds data (a DatetimeIndex, a named index, named levels) becomes columns
in front of the others, as a CSV file has its date column; an unnamed DatetimeIndex takes the
time column's name. A default index (unnamed, not times) is dropped.
"""

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import pandas as pd

from thunder.domain.data.history import Columnar
from thunder.domain.errors import InvalidArgument, MissingColumn
from thunder.domain.values import Columns

TrainingData = str | os.PathLike[str] | pd.DataFrame | Iterable[pd.DataFrame]
ONE_FRAME = "DataFrame"  # how a source of frames is named in reports and errors
FRAMES = "DataFrames"


def with_index(frame: pd.DataFrame, time_name: str) -> pd.DataFrame:
    """`frame` with the index levels that hold data as its first columns (a level whose name
    is already a column is left out: the column wins)."""
    index = frame.index
    taken = {str(c) for c in frame.columns}
    kept: dict[str, Any] = {}
    for i, name in enumerate(index.names):
        values = index.get_level_values(i)
        if name is None and isinstance(values, pd.DatetimeIndex):
            name = time_name
        if name is not None and str(name) not in taken:
            kept[str(name)] = values
    if not kept:
        return frame
    front = pd.DataFrame(kept)
    return pd.concat([front, frame.reset_index(drop=True)], axis=1)


def frames_of(
    data: object, time_name: str
) -> tuple[Sequence[pd.DataFrame] | Iterator[pd.DataFrame], str]:
    """Data that is not a path as frames, with a name for reports and errors: one DataFrame,
    a sequence read in place, or any other iterable passed on lazily (a one-shot generator is
    spilled by the source and read once). InvalidArgument for anything else."""
    if isinstance(data, pd.DataFrame):
        return [with_index(data, time_name)], ONE_FRAME
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        return [_frame(f, k, time_name) for k, f in enumerate(data)], FRAMES
    if isinstance(data, Iterable) and not isinstance(data, str | bytes | Mapping):
        return (_frame(f, k, time_name) for k, f in enumerate(data)), FRAMES
    hint = (
        " (for several series, give one frame with a series id column and set "
        "preprocessing_config.id_column)"
        if isinstance(data, Mapping)
        else ""
    )
    raise InvalidArgument(
        f"data: expected the path of a CSV or Parquet file, a pandas DataFrame or an iterable "
        f"of DataFrames, got {type(data).__name__}{hint}",
        field="data",
    )


def _frame(item: object, k: int, time_name: str) -> pd.DataFrame:
    if not isinstance(item, pd.DataFrame):
        raise InvalidArgument(
            f"data: item {k + 1} is a {type(item).__name__}, not a pandas DataFrame",
            field=f"data[{k}]",
        )
    return with_index(item, time_name)


class _Column(Sequence[object]):
    """One column of a history, as the API's Columnar history reads it: its length, and its
    last rows as plain Python values (timestamps as ISO text, as a CSV or a JSON body has them).
    Only the rows a forecast needs are ever converted, however long the frame."""

    def __init__(self, values: "pd.Series[Any]") -> None:
        self._values = values

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def __getitem__(self, index: int) -> object: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[object]: ...
    def __getitem__(self, index: int | slice) -> object:
        if isinstance(index, slice):
            return _plain(self._values.iloc[index])
        return _plain(self._values.iloc[[index]])[0]


def _plain(values: "pd.Series[Any]") -> list[object]:
    if _is_time(values):
        return list(values.astype(str).tolist())
    return list(values.tolist())


def _is_time(values: "pd.Series[Any]") -> bool:
    return isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values)


@dataclass(frozen=True)
class FrameHistory:
    """A history frame as a forecast reads it; `stamps` is the time column's dtype when it
    holds datetimes (the forecast's timestamps come back as the same kind), else None; `last`
    its last (up to 3) timestamps when they carry a time zone, for steps on the local clock."""

    columns: Columnar
    stamps: Any = None
    last: tuple[pd.Timestamp, ...] = ()


def history_of(frame: object, columns: Columns, where: str = "history") -> FrameHistory:
    """A DataFrame of past rows (oldest first) as the history a forecast reads; MissingColumn
    names a column the model needs and the frame lacks."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidArgument(
            f"{where}: expected a pandas DataFrame, got {type(frame).__name__}", field=where
        )
    frame = with_index(frame, columns.time or "date").rename(columns=str)
    needed = [*columns.read, *([columns.time] if columns.time else [])]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise MissingColumn(
            f"{where}: no column {missing[0]!r} (the model reads {', '.join(map(repr, needed))}); "
            f"it has {', '.join(map(repr, frame.columns))}",
            field=missing[0],
        )
    stamps = frame[columns.time] if columns.time else None
    kind = stamps.dtype if stamps is not None and _is_time(stamps) else None
    zoned = isinstance(kind, pd.DatetimeTZDtype)
    last = tuple(stamps.iloc[-3:]) if stamps is not None and zoned else ()
    return FrameHistory({c: _Column(frame[c]) for c in needed}, kind, last)


def forecast_frame(
    rows: list[dict[str, Any]],
    time: str | None,
    stamps: Any,
    last: Sequence[pd.Timestamp] = (),
) -> pd.DataFrame:
    """One series' forecast rows (as /predict answers them) as a DataFrame: step, the time
    column when the model has one (datetimes when the history's were, else text; empty when
    the history's times are not regular), then the targets and their quantile columns.

    Zoned stamps `last` a whole number of days apart step on the local clock, as pandas'
    freq="D" does (midnight stays midnight across a change to or from summer time); any other
    spacing steps in elapsed time, as /predict does."""
    out = pd.DataFrame(rows)
    if time is None:
        return out
    if time not in out.columns:
        out.insert(1, time, None)
    if stamps is not None:
        tz = getattr(stamps, "tz", None)
        out[time] = pd.to_datetime(out[time], format="ISO8601", utc=tz is not None)
        if tz is not None:
            out[time] = out[time].dt.tz_convert(tz)
            daily = _local_days(last, len(out))
            if daily is not None:
                out[time] = daily.tz_convert(tz)
    return out


def _local_days(last: Sequence[pd.Timestamp], steps: int) -> pd.DatetimeIndex | None:
    """The zoned stamps `last` ends, continued for `steps` more on the local clock, when they
    are evenly spaced by whole days there; else None. A local time that a change of clocks
    skips moves forward to the first that exists; one it repeats takes summer time."""
    if len(last) < 2:
        return None
    wall = pd.DatetimeIndex(list(last)).tz_localize(None)  # local clock times, zone dropped
    deltas = set(wall[1:] - wall[:-1])
    if len(deltas) != 1:
        return None
    step = deltas.pop()
    if step <= pd.Timedelta(0) or step % pd.Timedelta(days=1) != pd.Timedelta(0):
        return None
    future = pd.DatetimeIndex([wall[-1] + k * step for k in range(1, steps + 1)])
    summer = np.ones(steps, dtype=bool)
    return future.tz_localize(last[-1].tz, ambiguous=summer, nonexistent="shift_forward")
