import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from thunder.domain.splitting import origins
from thunder.domain.values import Chunk, WindowSpec
from thunder.domain.windowing import WindowCutter


def chunked(values: np.ndarray, size: int) -> list[Chunk]:
    return [Chunk(s, values[s : s + size]) for s in range(0, len(values), size)]


def in_memory(values: np.ndarray, spec: WindowSpec, wanted: range) -> tuple[np.ndarray, np.ndarray]:
    xs = [values[o - spec.past_steps : o, [0, 1]] for o in wanted]
    ys = [values[o : o + spec.future_steps, [0]] for o in wanted]
    return np.array(xs).reshape(-1, spec.past_steps, 2), np.array(ys).reshape(
        -1, spec.future_steps, 1
    )


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 120),
    size=st.integers(1, 150),
    past=st.integers(1, 12),
    future=st.integers(1, 6),
    a=st.floats(0, 1),
    b=st.floats(0, 1),
)
def test_windows_over_any_chunking_equal_the_in_memory_windows(
    rows: int, size: int, past: int, future: int, a: float, b: float
) -> None:
    values = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
    spec = WindowSpec(past, future)
    lo, hi = sorted((int(a * rows), int(b * rows)))
    wanted = origins(range(lo, hi), spec)
    batches = list(WindowCutter(spec, [0, 1], [0]).cut(chunked(values, size), wanted))
    x = np.concatenate([b.x for b in batches]) if batches else np.zeros((0, past, 2))
    y = np.concatenate([b.y for b in batches]) if batches else np.zeros((0, future, 1))
    ex, ey = in_memory(values, spec, wanted)
    np.testing.assert_array_equal(x, ex)
    np.testing.assert_array_equal(y, ey)
    assert all(len(b) <= max(size, 1) for b in batches), "a batch never exceeds one chunk"


def test_last_holds_the_row_before_the_forecast() -> None:
    values = np.arange(20, dtype=np.float32).reshape(20, 1)
    spec = WindowSpec(4, 2)
    batch = next(WindowCutter(spec, [0], [0]).cut(chunked(values, 7), origins(range(0, 20), spec)))
    np.testing.assert_array_equal(batch.last[:, 0], batch.x[:, -1, 0])
    assert batch.last[0, 0] == 3.0


def test_reading_stops_once_the_split_is_done() -> None:
    values = np.arange(100, dtype=np.float32).reshape(100, 1)
    read: list[int] = []

    def source() -> object:
        for c in chunked(values, 10):
            read.append(c.start)
            yield c

    spec = WindowSpec(3, 2)
    list(WindowCutter(spec, [0], [0]).cut(source(), origins(range(0, 30), spec)))  # type: ignore[arg-type]
    assert max(read) < 40
