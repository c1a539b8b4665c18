from pathlib import Path

import numpy as np
import pytest

from thunder.adapters.binary_cache import BinaryRowCache
from thunder.domain.values import Chunk


def chunks(rows: int, size: int, multi: bool) -> list[Chunk]:
    values = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)
    codes = np.arange(rows, dtype=np.int64) % 2 if multi else None
    return [
        Chunk(
            s,
            values[s : s + size],
            None if codes is None else codes[s : s + size],
            None,
            ("p", "q"),
        )
        for s in range(0, rows, size)
    ]


def test_rows_come_back_in_chunks_of_the_cache_size_with_counts_and_names(tmp_path: Path) -> None:
    cache = BinaryRowCache(tmp_path, chunk_rows=4)
    table = cache.build("k", chunks(10, 3, multi=True), origin="a.csv")
    again = cache.open("k")
    assert again is not None
    for t in (table, again):
        out = list(t.chunks())
        assert [len(c) for c in out] == [4, 4, 2]
        np.testing.assert_array_equal(
            np.concatenate([c.values for c in out]), chunks(10, 10, True)[0].values
        )
        assert (
            np.concatenate([c.series for c in out if c.series is not None]).tolist() == [0, 1] * 5
        )
        assert dict(t.counts) == {0: 5, 1: 5} and list(t.names) == ["p", "q"]


def test_a_single_series_entry_has_no_code_file(tmp_path: Path) -> None:
    table = BinaryRowCache(tmp_path, 100).build("k", chunks(7, 3, multi=False), origin="a.csv")
    assert dict(table.counts) == {0: 7}
    assert not (tmp_path / "k.i32").exists()
    assert all(c.series is None for c in table.chunks())


def test_a_failed_build_leaves_no_entry_and_no_staged_files(tmp_path: Path) -> None:
    def broken() -> object:
        yield from chunks(6, 3, multi=False)[:1]
        raise RuntimeError("bad row")

    cache = BinaryRowCache(tmp_path, 10)
    with pytest.raises(RuntimeError):
        cache.build("k", broken(), origin="a.csv")  # type: ignore[arg-type]
    assert cache.open("k") is None
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_entry_is_ignored(tmp_path: Path) -> None:
    cache = BinaryRowCache(tmp_path, 10)
    cache.build("k", chunks(6, 3, multi=False), origin="a.csv")
    (tmp_path / "k.f32").write_bytes(b"\0" * 8)
    assert cache.open("k") is None


def test_a_new_entry_for_the_same_file_replaces_the_old_one(tmp_path: Path) -> None:
    cache = BinaryRowCache(tmp_path, 10)
    cache.build("old", chunks(6, 3, multi=False), origin="a.csv")
    cache.build("other", chunks(6, 3, multi=False), origin="b.csv")
    cache.build("new", chunks(6, 3, multi=False), origin="a.csv")
    assert cache.open("old") is None
    assert cache.open("other") is not None and cache.open("new") is not None


def test_the_sampling_step_of_the_first_series_is_kept(tmp_path: Path) -> None:
    hour = 3600 * 10**9
    times = np.arange(6, dtype=np.int64) // 2 * hour  # two series interleaved hour by hour
    values = np.zeros((6, 3), dtype=np.float32)
    codes = np.arange(6, dtype=np.int64) % 2
    rows = [Chunk(0, values, codes, times, ("p", "q"))]
    cache = BinaryRowCache(tmp_path, 10)
    assert cache.build("k", rows, origin="a.csv").step_seconds == 3600.0
    reopened = cache.open("k")
    assert reopened is not None and reopened.step_seconds == 3600.0
