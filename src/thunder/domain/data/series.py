"""Split a chunk's rows by series, keeping each series' rows in file order.

Long-format files interleave series freely; everything per-series (checks, positions, windows)
works on these groups, so a window never mixes two series.
"""

from collections.abc import Iterator

import numpy as np

from thunder.domain.values import Chunk, FloatArray, IndexArray

Rows = slice | IndexArray  # a slice when the chunk is one series: no copy


def groups(chunk: Chunk) -> Iterator[tuple[int, Rows]]:
    """(series code, the chunk rows of that series), in order of first appearance in the chunk."""
    if chunk.series is None:
        yield 0, slice(0, len(chunk))
        return
    codes = chunk.series
    if len(codes) == 0:
        return
    if codes[0] == codes[-1] and (codes == codes[0]).all():
        yield int(codes[0]), slice(0, len(chunk))
        return
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    parts = np.split(order, bounds)
    parts.sort(key=lambda rows: int(rows[0]))
    for rows in parts:
        yield int(codes[rows[0]]), rows


def series_name(chunk: Chunk, code: int) -> str:
    return chunk.names[code] if code < len(chunk.names) else str(code)


def positioned(chunk: Chunk, seen: dict[int, int]) -> Iterator[tuple[int, FloatArray, int]]:
    """(series code, that series' rows in this chunk, the position of the first of them within
    its series), advancing `seen` (rows of each series streamed so far) as it goes."""
    for code, rows in groups(chunk):
        values = chunk.values[rows]
        start = seen.get(code, 0)
        seen[code] = start + len(values)
        yield code, values, start
