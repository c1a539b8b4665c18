"""Calendar features from the time column: position in the day, week and year as sin/cos pairs.

A pair (sin 2πx/P, cos 2πx/P) puts 23:00 next to 00:00 and 31 December next to 1 January,
which a raw hour or day number does not. The same functions serve training (timestamps parsed
by the chunk reader) and serving (timestamps as the client wrote them), so both see one encoding.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from thunder.domain.errors import InvalidHistory
from thunder.domain.values import Chunk, FloatArray, IndexArray

_NS_PER_S = 1_000_000_000
_S_PER_DAY = 86_400
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; Monday is 0


def _hour(t: IndexArray) -> tuple[FloatArray, float]:
    seconds = (t // _NS_PER_S) % _S_PER_DAY
    return (seconds / 3600.0).astype(np.float64), 24.0


def _day_of_week(t: IndexArray) -> tuple[FloatArray, float]:
    seconds = t // _NS_PER_S
    days = seconds / _S_PER_DAY  # fractional: Monday noon is 0.5
    return ((days + _EPOCH_WEEKDAY) % 7).astype(np.float64), 7.0


def _day_of_year(t: IndexArray) -> tuple[FloatArray, float]:
    stamps = t.astype("datetime64[ns]")
    since_new_year = stamps - stamps.astype("datetime64[Y]").astype("datetime64[ns]")
    return (since_new_year / np.timedelta64(1, "D")).astype(np.float64), 365.25


def _month(t: IndexArray) -> tuple[FloatArray, float]:
    stamps = t.astype("datetime64[ns]")
    months = stamps.astype("datetime64[M]").astype(np.int64) % 12
    return months.astype(np.float64), 12.0


FEATURES: Mapping[str, Callable[[IndexArray], tuple[FloatArray, float]]] = {
    "hour": _hour,
    "day_of_week": _day_of_week,
    "day_of_year": _day_of_year,
    "month": _month,
}


def calendar_values(times: IndexArray, features: Sequence[str]) -> FloatArray:
    """times: [n] int64 nanoseconds since 1970 (UTC or naive) -> [n, 2 * len(features)]."""
    out = np.empty((len(times), 2 * len(features)), dtype=np.float32)
    for k, name in enumerate(features):
        position, period = FEATURES[name](times)
        angle = 2 * np.pi * position / period
        out[:, 2 * k] = np.sin(angle)
        out[:, 2 * k + 1] = np.cos(angle)
    return out


def with_calendar(chunks: Iterable[Chunk], features: Sequence[str]) -> Iterator[Chunk]:
    """Append the calendar features' sin/cos columns, computed from each row's timestamp."""
    for chunk in chunks:
        assert chunk.time is not None  # the caller asks the source for the time column
        extra = calendar_values(chunk.time, features)
        values = np.concatenate([chunk.values, extra], axis=1)
        yield Chunk(chunk.start, values, chunk.series, chunk.time, chunk.names)


def parse_times(values: Sequence[object], column: str, first_row: int) -> IndexArray:
    """A client's timestamps (ISO 8601 strings, as the CSV had them) as int64 nanoseconds;
    InvalidHistory names the first row that is not one."""
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise InvalidHistory(
                f"row {first_row + i}, column '{column}': {v!r} is not a timestamp "
                f"(the model's calendar features need one per row)",
                field=f"data[{first_row + i}].{column}",
            )
    try:
        return np.array(values, dtype="datetime64[ns]").astype(np.int64)
    except ValueError:
        for i, v in enumerate(values):
            try:
                np.datetime64(str(v), "ns")
            except ValueError:
                raise InvalidHistory(
                    f"row {first_row + i}, column '{column}': {v!r} is not an ISO 8601 timestamp",
                    field=f"data[{first_row + i}].{column}",
                ) from None
        raise
