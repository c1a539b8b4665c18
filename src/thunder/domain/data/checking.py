"""Check rows as they stream past: the missing-value policy and time order, per series.

State is one row and one timestamp per series, so the check holds no more than a chunk plus
that, however long the file. Errors name the file, the 1-based data row and the column.
"""

from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import numpy as np

from thunder.domain.data.series import groups, series_name
from thunder.domain.errors import NonFiniteValue, OutOfOrder
from thunder.domain.values import Chunk, FloatArray, IndexArray

Missing = Literal["error", "ffill", "drop"]
_EARLIEST = np.iinfo(np.int64).min


class RowChecker:
    def __init__(
        self,
        source: str,
        columns: Sequence[str],
        missing: Missing = "error",
        time_column: str | None = None,
    ) -> None:
        self._source = source
        self._columns = tuple(columns)
        self._missing = missing
        self._time_column = time_column

    def __call__(self, chunks: Iterable[Chunk]) -> Iterator[Chunk]:
        last_row: dict[int, FloatArray] = {}
        last_time: dict[int, int] = {}
        for chunk in chunks:
            kept, rows = self._fill_or_drop(chunk, last_row)
            if kept.time is not None:
                self._check_order(kept, rows, last_time)
            yield kept

    def _fill_or_drop(
        self, chunk: Chunk, last_row: dict[int, FloatArray]
    ) -> tuple[Chunk, IndexArray | None]:
        """The chunk after the policy, and the file rows of what is left (None: all of them)."""
        empty = np.isnan(chunk.values)
        if self._missing == "ffill":
            return self._ffill(chunk, empty, last_row), None
        if not empty.any():
            return chunk, None
        if self._missing == "error":
            row, col = np.argwhere(empty)[0]
            raise NonFiniteValue(
                f"{self._where(chunk.start + int(row), self._columns[col])} is empty or NaN "
                f'(set preprocessing_config.missing to "ffill" or "drop" to accept gaps)',
                field=self._columns[col],
            )
        keep = np.flatnonzero(~empty.any(axis=1))
        return (
            Chunk(
                start=chunk.start,
                values=chunk.values[keep],
                series=None if chunk.series is None else chunk.series[keep],
                time=None if chunk.time is None else chunk.time[keep],
                names=chunk.names,
            ),
            keep,
        )

    def _ffill(self, chunk: Chunk, empty: np.ndarray, last_row: dict[int, FloatArray]) -> Chunk:
        values = chunk.values.copy() if empty.any() else chunk.values
        for code, rows in groups(chunk):
            block = values[rows]
            holes = empty[rows]
            if holes.any():
                position = np.arange(len(block))[:, None]
                source = np.maximum.accumulate(np.where(holes, -1, position), axis=0)
                previous = last_row.get(code)
                if previous is None and (source < 0).any():
                    row, col = np.argwhere(source < 0)[0]
                    file_row = chunk.start + _row_of(rows, int(row))
                    raise NonFiniteValue(
                        f"{self._where(file_row, self._columns[col])} is empty and opens series "
                        f"'{series_name(chunk, code)}': \"ffill\" has no earlier value to copy",
                        field=self._columns[col],
                    )
                cols = np.broadcast_to(np.arange(block.shape[1]), block.shape)
                filled = block[np.maximum(source, 0), cols]
                if previous is not None:
                    filled = np.where(source < 0, previous, filled)
                values[rows] = filled
                block = filled
            last_row[code] = block[-1].copy()
        return Chunk(chunk.start, values, chunk.series, chunk.time, chunk.names)

    def _check_order(
        self, chunk: Chunk, kept: IndexArray | None, last_time: dict[int, int]
    ) -> None:
        """Vectorised over all series at once: rows sorted by series (stably, so each series
        keeps file order), then each step must move forward, the first step from the series'
        last timestamp of the chunks before."""
        assert chunk.time is not None
        if len(chunk) == 0:
            return
        codes = np.zeros(len(chunk), np.int64) if chunk.series is None else chunk.series
        order = np.argsort(codes, kind="stable")
        by_series, times = codes[order], chunk.time[order]
        starts = np.flatnonzero(np.diff(by_series, prepend=-1))  # first row of each series
        ends = np.append(starts[1:], len(order)) - 1
        firsts = by_series[starts].tolist()
        before = np.asarray([last_time.get(c, _EARLIEST) for c in firsts], dtype=np.int64)
        steps = np.diff(times, prepend=0)
        steps[starts] = times[starts] - before
        unknown = np.asarray([c not in last_time for c in firsts])
        steps[starts[unknown]] = 1  # a series' first row ever has nothing to follow
        bad = np.flatnonzero(steps <= 0)
        if len(bad):
            at = bad[np.argmin(order[bad])]  # the offending row that comes first in the file
            file_row = chunk.start + _row_of(kept, int(order[at]))
            what = "repeats" if steps[at] == 0 else "goes back in time from"
            of = (
                ""
                if chunk.series is None
                else f" of series '{series_name(chunk, int(by_series[at]))}'"
            )
            within = "" if chunk.series is None else " within each series"
            raise OutOfOrder(
                f"{self._where(file_row, self._time_column or 'time')}: the timestamp {what} "
                f"the previous row{of}; sort the rows by time{within}",
                field=self._time_column,
            )
        last_time.update(zip(firsts, times[ends].tolist(), strict=True))

    def _where(self, row: int, column: str) -> str:
        return f"{self._source}: row {row + 1}, column '{column}'"


def _row_of(rows: slice | IndexArray | None, index: int) -> int:
    """The chunk row behind position `index` of a selection."""
    if rows is None:
        return index
    if isinstance(rows, slice):
        return (rows.start or 0) + index
    return int(rows[index])
