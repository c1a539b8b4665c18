"""RowCache: the in-memory fake and the binary cache keep checked rows alike."""

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.unit.fakes import InMemoryRowCache
from thunder.adapters.binary_cache import BinaryRowCache
from thunder.domain.ports import RowCache, Table
from thunder.domain.values import Chunk

HOUR = 3_600_000_000_000  # ns


def _rows(n: int, names: tuple[str, ...] = ("a", "b"), size: int = 4) -> Iterator[Chunk]:
    """Checked rows as the checker yields them: one pass, a generator (read once)."""
    values = np.arange(n * 3, dtype=np.float32).reshape(n, 3)  # [rows, columns]
    codes = np.arange(n, dtype=np.int64) % len(names)
    times = np.arange(n, dtype=np.int64) // len(names) * HOUR
    for start in range(0, n, size):
        end = min(n, start + size)
        yield Chunk(start, values[start:end], codes[start:end], times[start:end], names)


@pytest.fixture(params=["fake", "binary"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> RowCache:
    make: dict[str, Callable[[], RowCache]] = {
        "fake": InMemoryRowCache,
        "binary": lambda: BinaryRowCache(tmp_path / "cache", chunk_rows=3),
    }
    return make[request.param]()


def _values(table: Table) -> np.ndarray:
    return np.concatenate([c.values for c in table.chunks()])


def _codes(table: Table) -> list[int]:
    return [int(s) for c in table.chunks() if c.series is not None for s in c.series]


def test_a_key_never_built_opens_as_none(cache: RowCache) -> None:
    assert cache.open("nothing") is None


def test_a_built_table_opens_with_the_same_rows_counts_and_names(cache: RowCache) -> None:
    built = cache.build("k", _rows(10), origin="data.csv")
    opened = cache.open("k")
    assert opened is not None
    expected = np.concatenate([c.values for c in _rows(10)])
    for table in (built, opened):
        np.testing.assert_array_equal(_values(table), expected)
        assert _codes(table) == [i % 2 for i in range(10)]
        assert dict(table.counts) == {0: 5, 1: 5}
        assert list(table.names) == ["a", "b"]
        assert table.step_seconds == 3600.0


def test_a_table_reads_again_on_every_pass(cache: RowCache) -> None:
    table = cache.build("k", _rows(10), origin="data.csv")
    next(table.chunks())  # a pass left unfinished
    assert len(_values(table)) == len(_values(table)) == 10


def test_one_series_without_ids_counts_under_code_zero(cache: RowCache) -> None:
    one = (Chunk(c.start, c.values, None, c.time, ()) for c in _rows(7))
    table = cache.build("k", one, origin="data.csv")
    assert dict(table.counts) == {0: 7}
    assert list(table.names) == []
    assert _codes(table) == []


def test_a_built_table_keeps_the_rows_not_their_timestamps(cache: RowCache) -> None:
    table = cache.build("k", _rows(10), origin="data.csv")
    assert [c.time for c in table.chunks()] == [None] * len(list(table.chunks()))


def test_a_rebuild_replaces_the_entry(cache: RowCache) -> None:
    cache.build("k", _rows(10), origin="data.csv")
    cache.build("k", _rows(6, names=("x", "y", "z")), origin="data.csv")
    opened = cache.open("k")
    assert opened is not None
    assert len(_values(opened)) == 6
    assert list(opened.names) == ["x", "y", "z"]
    assert dict(opened.counts) == {0: 2, 1: 2, 2: 2}


def test_a_new_entry_for_an_origin_drops_its_older_one(cache: RowCache) -> None:
    cache.build("old", _rows(10), origin="data.csv")
    cache.build("other", _rows(4), origin="other.csv")
    cache.build("new", _rows(6), origin="data.csv")
    assert cache.open("old") is None
    assert cache.open("other") is not None
    assert cache.open("new") is not None
