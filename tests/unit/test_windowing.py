from collections.abc import Iterator

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from thunder.domain.data.splitting import origins
from thunder.domain.data.windowing import WindowCutter
from thunder.domain.values import Chunk, WindowSpec


def chunked(values: np.ndarray, size: int, codes: np.ndarray | None = None) -> list[Chunk]:
    return [
        Chunk(s, values[s : s + size], None if codes is None else codes[s : s + size])
        for s in range(0, len(values), size)
    ]


def in_memory(values: np.ndarray, spec: WindowSpec, wanted: range) -> tuple[np.ndarray, np.ndarray]:
    xs = [values[o - spec.past_steps : o, [0, 1]] for o in wanted]
    ys = [values[o : o + spec.future_steps, [0]] for o in wanted]
    return np.array(xs).reshape(-1, spec.past_steps, 2), np.array(ys).reshape(
        -1, spec.future_steps, 1
    )


def collect(batches: list, past: int, future: int) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    x = np.concatenate([b.x for b in batches]) if batches else np.zeros((0, past, 2))
    y = np.concatenate([b.y for b in batches]) if batches else np.zeros((0, future, 1))
    return x, y


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 120),
    size=st.integers(1, 150),
    past=st.integers(1, 12),
    future=st.integers(1, 6),
    stride=st.integers(1, 4),
    a=st.floats(0, 1),
    b=st.floats(0, 1),
)
def test_windows_over_any_chunking_equal_the_in_memory_windows(
    rows: int, size: int, past: int, future: int, stride: int, a: float, b: float
) -> None:
    values = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
    spec = WindowSpec(past, future)
    lo, hi = sorted((int(a * rows), int(b * rows)))
    wanted = origins(range(lo, hi), spec, stride)
    batches = list(WindowCutter(spec, [0, 1], [0]).cut(chunked(values, size), {0: wanted}))
    x, y = collect(batches, past, future)
    ex, ey = in_memory(values, spec, wanted)
    np.testing.assert_array_equal(x, ex)
    np.testing.assert_array_equal(y, ey)
    assert all(len(b) <= max(size, 1) for b in batches), "a batch never exceeds one chunk"


@settings(max_examples=100, deadline=None)
@given(
    codes=st.lists(st.integers(0, 3), min_size=1, max_size=150),
    size=st.integers(1, 40),
    past=st.integers(1, 6),
    future=st.integers(1, 4),
)
def test_interleaved_series_give_each_series_own_windows_and_never_mix_two(
    codes: list[int], size: int, past: int, future: int
) -> None:
    code_arr = np.asarray(codes, dtype=np.int64)
    rows = len(codes)
    # column 0 encodes the series, column 1 the row's position within its series
    position = np.zeros(rows)
    for c in set(codes):
        position[code_arr == c] = np.arange((code_arr == c).sum())
    values = np.stack([code_arr * 1000 + position, position], axis=1).astype(np.float32)
    spec = WindowSpec(past, future)
    wanted = {c: origins(range(0, int((code_arr == c).sum())), spec) for c in set(codes)}
    batches = list(WindowCutter(spec, [0, 1], [0]).cut(chunked(values, size, code_arr), wanted))
    x, y = collect(batches, past, future)
    got = sorted(map(tuple, np.concatenate([x[:, :, 0], y[:, :, 0]], axis=1).tolist()))
    expected = []
    for c, want in wanted.items():
        series = values[code_arr == c]
        expected += [tuple(series[o - past : o + future, 0].tolist()) for o in want]
    assert got == sorted(expected)


def test_last_holds_the_row_before_the_forecast() -> None:
    values = np.arange(20, dtype=np.float32).reshape(20, 1)
    spec = WindowSpec(4, 2)
    batch = next(
        WindowCutter(spec, [0], [0]).cut(chunked(values, 7), {0: origins(range(0, 20), spec)})
    )
    np.testing.assert_array_equal(batch.last[:, 0], batch.x[:, -1, 0])
    assert batch.last[0, 0] == 3.0


def test_reading_stops_once_the_split_is_done() -> None:
    values = np.arange(100, dtype=np.float32).reshape(100, 1)
    read: list[int] = []

    def source() -> Iterator[Chunk]:
        for c in chunked(values, 10):
            read.append(c.start)
            yield c

    spec = WindowSpec(3, 2)
    list(WindowCutter(spec, [0], [0]).cut(source(), {0: origins(range(0, 30), spec)}))
    assert max(read) < 40


def test_no_buffer_ever_holds_more_than_a_chunk_plus_one_window_of_carry_over() -> None:
    """The structural memory bound: whatever the file length, the cutter's buffer is a chunk
    plus `length - 1` rows, and each tail it keeps is a copy, not a view of a whole chunk."""
    spec, size = WindowSpec(24, 12), 100
    cutter = WindowCutter(spec, [0], [0])
    for rows in (1_000, 20_000):
        values = np.random.default_rng(0).normal(size=(rows, 1)).astype(np.float32)
        for _ in cutter.cut(chunked(values, size), {0: origins(range(0, rows), spec)}):
            pass
        assert cutter.largest_buffer <= size + spec.length - 1
