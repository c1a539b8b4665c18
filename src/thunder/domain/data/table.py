"""A Table that reads (and checks) the source again on every pass: the path without a cache."""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from thunder.domain.ports import Progress
from thunder.domain.values import Chunk


class RowCounter:
    """Counts rows per series as chunks stream through it."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.names: Sequence[str] = ()
        self.step_seconds: float | None = None  # sampling step, from the first timed chunk

    def __call__(self, chunks: Iterable[Chunk]) -> Iterator[Chunk]:
        for chunk in chunks:
            self.add(chunk)
            yield chunk

    def add(self, chunk: Chunk) -> None:
        if self.step_seconds is None and chunk.time is not None:
            self.step_seconds = _median_step(chunk)
        if chunk.series is None:
            if len(chunk):
                self.counts[0] = self.counts.get(0, 0) + len(chunk)
            return
        self.names = chunk.names
        per_code = np.bincount(chunk.series)
        for code in np.flatnonzero(per_code):
            self.counts[int(code)] = self.counts.get(int(code), 0) + int(per_code[code])


class StreamedTable:
    def __init__(self, rows: Callable[[], Iterator[Chunk]], progress: Progress) -> None:
        self._rows = rows
        counter = RowCounter()
        for _ in counter(progress.track(rows(), "check")):
            pass
        self._counts = counter.counts
        self._names = tuple(counter.names)
        self._step = counter.step_seconds

    @property
    def counts(self) -> Mapping[int, int]:
        return self._counts

    @property
    def names(self) -> Sequence[str]:
        return self._names

    @property
    def step_seconds(self) -> float | None:
        return self._step

    def chunks(self) -> Iterator[Chunk]:
        return self._rows()


def _median_step(chunk: Chunk) -> float | None:
    """Median time step, in seconds, of the chunk's first series (timestamps are in ns)."""
    assert chunk.time is not None
    times = chunk.time if chunk.series is None else chunk.time[chunk.series == chunk.series[0]]
    return float(np.median(np.diff(times))) / 1e9 if len(times) > 1 else None
