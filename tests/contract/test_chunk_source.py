"""ChunkSource: the in-memory fake, the CSV and Parquet readers and the DataFrame sources (one
frame, a list of frames, a one-shot generator of them) read one table alike."""

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.unit.fakes import FakeChunkSource
from thunder.adapters.sources.csv_chunks import CsvChunkSource
from thunder.adapters.sources.frames import open_frames
from thunder.adapters.sources.parquet_chunks import ParquetChunkSource
from thunder.domain.errors import DataError, MissingColumn
from thunder.domain.ports import ChunkSource
from thunder.domain.values import Chunk

NAN = float("nan")
TABLE: dict[str, list[object]] = {
    "date": [f"2024-01-01 {h:02d}:00:00" for h in range(7)],
    "id": ["a", "a", "b", "a", "b", "b", "c"],
    "x": [1.0, NAN, 3.0, 4.0, 5.0, 6.0, 7.0],
    "y": [10.0, 11.0, NAN, 13.0, 14.0, 15.0, 16.5],
}
# a source over a table (columns date, id, x, y) with chunks of the given size
Open = Callable[[Mapping[str, Sequence[object]], int], ChunkSource]


def _nanoseconds(dates: Sequence[object]) -> list[int]:
    stamps = pd.to_datetime(pd.Series([str(d) for d in dates]))
    return [int(t) for t in stamps.dt.as_unit("ns").astype("int64")]


def _fake(tmp: Path) -> Open:
    def open_(table: Mapping[str, Sequence[object]], size: int) -> ChunkSource:
        times = _nanoseconds(table["date"])
        numbers = {c: [float(v) for v in table[c]] for c in ("x", "y")}  # type: ignore[arg-type]
        return FakeChunkSource(
            numbers, size, time_column="date", times=times, series=[str(s) for s in table["id"]]
        )

    return open_


def _csv(tmp: Path) -> Open:
    def open_(table: Mapping[str, Sequence[object]], size: int) -> ChunkSource:
        path = tmp / f"table{len(list(tmp.iterdir()))}.csv"
        pd.DataFrame(table).to_csv(path, index=False)  # NaN: an empty cell
        return CsvChunkSource(path, size)

    return open_


def _parquet(tmp: Path) -> Open:
    def open_(table: Mapping[str, Sequence[object]], size: int) -> ChunkSource:
        path = tmp / f"table{len(list(tmp.iterdir()))}.parquet"
        frame = pd.DataFrame(table)
        frame["date"] = pd.to_datetime(frame["date"])  # typed, as Parquet files carry it
        frame.to_parquet(path, index=False)
        return ParquetChunkSource(path, size)

    return open_


def _frame(tmp: Path) -> Open:
    def open_(table: Mapping[str, Sequence[object]], size: int) -> ChunkSource:
        frame = pd.DataFrame(table)
        frame["date"] = pd.to_datetime(frame["date"])  # typed, as a notebook's frame often is
        return open_frames(frame, size, "DataFrame", tmp)

    return open_


def _pieces(table: Mapping[str, Sequence[object]]) -> list[pd.DataFrame]:
    """The table cut into frames of 2, 3 and the rest rows (the last may be empty)."""
    frame = pd.DataFrame(table)
    return [frame.iloc[:2], frame.iloc[2:5], frame.iloc[5:]]


def _frame_list(tmp: Path) -> Open:
    def open_(table: Mapping[str, Sequence[object]], size: int) -> ChunkSource:
        return open_frames(_pieces(table), size, "DataFrames", tmp)

    return open_


def _frame_stream(tmp: Path) -> Open:
    def open_(table: Mapping[str, Sequence[object]], size: int) -> ChunkSource:
        spill = tmp / f"spill{len(list(tmp.iterdir()))}"
        spill.mkdir()
        return open_frames(iter(_pieces(table)), size, "DataFrames", spill)

    return open_


@pytest.fixture(
    params=[_fake, _csv, _parquet, _frame, _frame_list, _frame_stream],
    ids=["fake", "csv", "parquet", "frame", "frame-list", "frame-stream"],
)
def open_source(request: pytest.FixtureRequest, tmp_path: Path) -> Open:
    maker: Callable[[Path], Open] = request.param
    return maker(tmp_path)


def _read(source: ChunkSource, columns: Sequence[str], **kw: str) -> list[Chunk]:
    return list(source.chunks(columns, **kw))


def test_the_header_names_every_column_in_file_order(open_source: Open) -> None:
    assert list(open_source(TABLE, 3).header()) == ["date", "id", "x", "y"]


@pytest.mark.parametrize("columns", [["x", "y"], ["y", "x"], ["y"]])
def test_chunks_hold_the_asked_columns_in_order_with_nan_for_empty_cells(
    open_source: Open, columns: list[str]
) -> None:
    chunks = _read(open_source(TABLE, 3), columns)
    values = np.concatenate([c.values for c in chunks])  # [rows, columns]
    expected = np.array([TABLE[c] for c in columns], dtype=np.float64).T
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, expected.astype(np.float32))  # NaN == NaN here
    assert [c.series for c in chunks] == [None] * 3
    assert [c.time for c in chunks] == [None] * 3


def test_chunks_respect_the_chunk_size_and_count_rows_from_the_top(open_source: Open) -> None:
    source = open_source(TABLE, 3)
    assert source.chunk_rows == 3
    chunks = _read(source, ["x"])
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [c.start for c in chunks] == [0, 3, 6]


def test_the_time_column_is_parsed_to_int64_nanoseconds(open_source: Open) -> None:
    chunks = _read(open_source(TABLE, 4), ["x"], time="date")
    times = np.concatenate([c.time for c in chunks if c.time is not None])
    assert times.dtype == np.int64
    assert times.tolist() == _nanoseconds(TABLE["date"])


def test_series_ids_become_codes_in_order_of_first_appearance(open_source: Open) -> None:
    chunks = _read(open_source(TABLE, 2), ["x"], series="id")
    codes = np.concatenate([c.series for c in chunks if c.series is not None])
    assert codes.dtype == np.int64
    assert codes.tolist() == [0, 0, 1, 0, 1, 1, 2]
    assert list(chunks[-1].names) == ["a", "b", "c"]


def test_every_call_of_chunks_reads_again_from_the_top(open_source: Open) -> None:
    source = open_source(TABLE, 3)
    first = _read(source, ["x", "y"], time="date", series="id")
    next(iter(source.chunks(["x"])))  # a pass left unfinished does not move the next one
    again = _read(source, ["x", "y"], time="date", series="id")
    assert [c.start for c in again] == [c.start for c in first]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.series, b.series)
        np.testing.assert_array_equal(a.time, b.time)


@pytest.mark.parametrize(
    ("columns", "time", "series"),
    [(["x", "nope"], None, None), (["x"], "nope", None), (["x"], None, "nope")],
)
def test_a_missing_column_is_named(
    open_source: Open, columns: list[str], time: str | None, series: str | None
) -> None:
    with pytest.raises(MissingColumn, match="nope") as caught:
        list(open_source(TABLE, 3).chunks(columns, time=time, series=series))
    assert caught.value.field == "nope"


def test_a_chunk_size_below_one_row_is_refused(open_source: Open) -> None:
    with pytest.raises(DataError, match="chunk size"):
        open_source(TABLE, 0)


def test_a_table_without_rows_is_a_data_error(open_source: Open) -> None:
    empty: dict[str, list[object]] = {c: [] for c in TABLE}
    with pytest.raises(DataError, match="no"):
        _read(open_source(empty, 3), ["x"])


def test_the_fingerprint_is_stable_and_changes_with_any_column(open_source: Open) -> None:
    same = open_source(TABLE, 3).fingerprint()
    assert open_source(TABLE, 5).fingerprint() == same  # the chunk size is not the content
    for column, value in (("x", 9.0), ("date", "2024-01-02 06:00:00"), ("id", "z")):
        edited = {c: list(v) for c, v in TABLE.items()}
        edited[column][-1] = value
        assert open_source(edited, 3).fingerprint() != same, column


def test_a_frame_stream_whose_int_column_later_holds_decimals_or_nan_reads_as_floats(
    tmp_path: Path,
) -> None:
    # pd.read_csv(path, chunksize=2): each frame infers its own dtypes; x is int64 in the first
    # frame, y until the third; the time column, int64 nanoseconds throughout, stays int64
    stamps = _nanoseconds(TABLE["date"])
    frames = [
        pd.DataFrame({"t": stamps[:2], "x": [1, 2], "y": [10, 11]}),
        pd.DataFrame({"t": stamps[2:4], "x": [3.5, NAN], "y": [12, 13]}),
        pd.DataFrame({"t": stamps[4:], "x": [5, 6, 7], "y": [NAN, 15.0, 16.5]}),
    ]
    source = open_frames(iter(frames), 3, "DataFrames", tmp_path)
    chunks = _read(source, ["x", "y"], time="t")
    values = np.concatenate([c.values for c in chunks])  # [rows, columns]
    expected = [[1, 10], [2, 11], [3.5, 12], [NAN, 13], [5, NAN], [6, 15], [7, 16.5]]
    np.testing.assert_array_equal(values, np.array(expected, dtype=np.float32))
    assert np.concatenate([c.time for c in chunks if c.time is not None]).tolist() == stamps
    assert list(tmp_path.iterdir()) == [tmp_path / "frames.parquet"]  # no staging copy left


def test_a_frame_stream_whose_column_turns_from_numbers_to_text_is_refused(
    tmp_path: Path,
) -> None:
    frames = iter([pd.DataFrame({"x": [1, 2]}), pd.DataFrame({"x": ["a", "b"]})])
    with pytest.raises(DataError, match="frame 2: its column types differ"):
        list(open_frames(frames, 3, "DataFrames", tmp_path).chunks(["x"]))
