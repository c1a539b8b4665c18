"""Parquet and compressed CSV give the very chunks the plain CSV gives."""

import bz2
import gzip
import lzma
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zstandard

from tests.conftest import DEMO_CSV
from thunder.adapters.sources.by_suffix import open_source
from thunder.adapters.sources.csv_chunks import CsvChunkSource
from thunder.adapters.sources.parquet_chunks import ParquetChunkSource
from thunder.domain.errors import DataError, MissingColumn
from thunder.domain.ports import ChunkSource

COLUMNS = ["meantemp", "humidity"]
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": zstandard.compress,
}


def _multi_series(tmp_path: Path) -> Path:
    """The demo rows as three interleaved series (ids x, 7, z), so codes matter."""
    frame = pd.read_csv(DEMO_CSV)
    frame.insert(0, "id", np.array(["x", "7", "z"])[np.arange(len(frame)) % 3])
    path = tmp_path / "multi.csv"
    frame.to_csv(path, index=False)
    return path


def _read(source: ChunkSource, series: str | None = None) -> dict[str, np.ndarray]:
    chunks = list(source.chunks(COLUMNS, time="date", series=series))
    out = {
        "values": np.concatenate([c.values for c in chunks]),
        "time": np.concatenate([c.time for c in chunks if c.time is not None]),
        "starts": np.array([c.start for c in chunks]),
    }
    if series is not None:
        out["series"] = np.concatenate([c.series for c in chunks if c.series is not None])
        out["names"] = np.array(chunks[-1].names)
    return out


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("suffix", list(COMPRESSORS))
@pytest.mark.parametrize("series", [None, "id"])
def test_compressed_csv_reads_as_the_plain_file(
    tmp_path: Path, suffix: str, series: str | None
) -> None:
    plain = _multi_series(tmp_path)
    packed = tmp_path / f"multi.csv{suffix}"
    packed.write_bytes(COMPRESSORS[suffix](plain.read_bytes()))
    source = open_source(packed, 300)
    assert isinstance(source, CsvChunkSource)
    assert source.header() == CsvChunkSource(plain, 300).header()
    _assert_same(_read(source, series), _read(CsvChunkSource(plain, 300), series))


@pytest.mark.parametrize("typed_time", [True, False])
@pytest.mark.parametrize("series", [None, "id"])
def test_parquet_reads_as_the_csv(tmp_path: Path, typed_time: bool, series: str | None) -> None:
    plain = _multi_series(tmp_path)
    frame = pd.read_csv(plain, dtype={"id": str})
    if typed_time:  # a real timestamp column, as Parquet writers usually store it
        frame["date"] = pd.to_datetime(frame["date"])
    path = tmp_path / "multi.parquet"
    frame.to_parquet(path, index=False, row_group_size=250)
    source = open_source(path, 300)
    assert isinstance(source, ParquetChunkSource)
    assert list(source.header()) == list(CsvChunkSource(plain, 300).header())
    _assert_same(_read(source, series), _read(CsvChunkSource(plain, 300), series))


def test_parquet_problems_name_the_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pd.DataFrame({"date": ["2020-01-01", "2020-01-02"], "meantemp": [1.0, np.inf]}).to_parquet(path)
    with pytest.raises(MissingColumn, match=r"d\.parquet: missing column\(s\) 'humidity'"):
        list(ParquetChunkSource(path, 10).chunks(COLUMNS))
    with pytest.raises(DataError, match=r"row 2, column 'meantemp' is not finite"):
        list(ParquetChunkSource(path, 10).chunks(["meantemp"], time="date"))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable Parquet file"):
        ParquetChunkSource(broken, 10).header()
    with pytest.raises(DataError, match="no such file"):
        ParquetChunkSource(tmp_path / "nope.parquet", 10).header()


def test_a_damaged_compressed_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(DEMO_CSV.read_bytes())[:-200])  # truncated download
    with pytest.raises(DataError, match=r"d\.csv\.gz: cannot read \(not a valid gzip file"):
        _read(CsvChunkSource(path, 500))
    path.write_bytes(b"plain text, not gzip")
    with pytest.raises(DataError, match=r"d\.csv\.gz: cannot read \(not a valid gzip file"):
        CsvChunkSource(path, 500).header()
