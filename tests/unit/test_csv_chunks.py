from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DEMO_CSV
from thunder.adapters.sources.csv_chunks import CsvChunkSource
from thunder.domain.errors import DataError, MalformedRow, MissingColumn, NonFiniteValue


def csv(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "data.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def read_all(path: Path, size: int = 2, columns: tuple[str, ...] = ("a", "b")) -> np.ndarray:
    return np.concatenate([c.values for c in CsvChunkSource(path, size).chunks(list(columns))])


def test_chunks_cover_every_row_in_order_and_restart(tmp_path: Path) -> None:
    path = csv(
        tmp_path, "date,a,b\n" + "".join(f"2020-01-{i + 1:02d},{i},{-i}\n" for i in range(7))
    )
    source = CsvChunkSource(path, 3)
    chunks = list(source.chunks(["b", "a"]))
    assert [c.start for c in chunks] == [0, 3, 6]
    assert [len(c.values) for c in chunks] == [3, 3, 1]
    np.testing.assert_array_equal(chunks[2].values, [[-6.0, 6.0]])
    assert len(list(source.chunks(["a"]))) == 3  # a second pass starts from the top


def test_demo_file_reads_in_bounded_chunks() -> None:
    source = CsvChunkSource(DEMO_CSV, 500)
    chunks = list(source.chunks(["meantemp"]))
    assert sum(len(c.values) for c in chunks) == 1462
    assert max(len(c.values) for c in chunks) == 500


@pytest.mark.parametrize(
    ("text", "error", "needle"),
    [
        ("a,b\n1,2\n3,x\n", MalformedRow, "row 2, column 'b': 'x' is not a number"),
        ("a,b\n1,2\n3,inf\n", NonFiniteValue, "row 2, column 'b' is not finite"),
        ("a,c\n1,2\n", MissingColumn, "missing column(s) 'b'"),
        ("", DataError, "empty"),
        ("a,b\n", DataError, "no data rows"),
        ("a,b\n1,2\n3,4,5,6\n", MalformedRow, "line 3: 4 fields where the header has 2"),
        ('a,b\n1,2\n3,"4\n', MalformedRow, "row 2: a quoted value is never closed"),
        ("a,b\n1,2\n3,-1e39\n", NonFiniteValue, "row 2, column 'b': -1e+39 is beyond the float32"),
        ("a;b\n1;2\n", MissingColumn, "the header looks ';'-separated"),
        (b"a,b\n\xff\xfe,1\n", DataError, "UTF-8"),
    ],
)
def test_bad_files_name_row_and_column(tmp_path: Path, text: str, error: type, needle: str) -> None:
    with pytest.raises(error) as err:
        read_all(csv(tmp_path, text))
    assert needle in err.value.args[0]
    assert "data.csv" in err.value.args[0]


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    path = csv(tmp_path, b"\xef\xbb\xbfa,b\n1,2\n")
    assert CsvChunkSource(path, 10).header() == ["a", "b"]
    np.testing.assert_array_equal(read_all(path), [[1.0, 2.0]])


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        CsvChunkSource(tmp_path / "nope.csv", 10).header()


def test_fingerprint_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    import hashlib

    path = csv(tmp_path, "a,b\n1,2\n")
    assert CsvChunkSource(path, 1).fingerprint() == hashlib.sha256(b"a,b\n1,2\n").hexdigest()


def test_empty_cells_come_out_as_nan_for_the_missing_value_policy(tmp_path: Path) -> None:
    values = read_all(csv(tmp_path, "a,b\n1,2\n3,\n,4\n"))
    assert np.isnan(values[1, 1]) and np.isnan(values[2, 0])
    assert values[0].tolist() == [1.0, 2.0]


def test_series_ids_become_codes_in_order_of_first_appearance_across_chunks(
    tmp_path: Path,
) -> None:
    path = csv(tmp_path, "id,a,b\nx,1,1\n7,2,2\nx,3,3\nz,4,4\n7,5,5\n")
    chunks = list(CsvChunkSource(path, 2).chunks(["a"], series="id"))
    assert np.concatenate([c.series for c in chunks if c.series is not None]).tolist() == [
        0,
        1,
        0,
        2,
        1,
    ]
    assert list(chunks[-1].names) == ["x", "7", "z"]


def test_timestamps_are_parsed_to_int64_nanoseconds(tmp_path: Path) -> None:
    path = csv(tmp_path, "date,a\n2020-01-01,1\n2020-01-02 06:00,2\n")
    (chunk,) = CsvChunkSource(path, 10).chunks(["a"], time="date")
    assert chunk.time is not None
    assert (chunk.time[1] - chunk.time[0]) == 30 * 3600 * 10**9


@pytest.mark.parametrize(
    ("text", "error", "needle"),
    [
        (
            "date,a\n2020-01-01,1\nsoon,2\n",
            MalformedRow,
            "row 2, column 'date': 'soon' is not a date",
        ),
        ("date,a\n2020-01-01,1\n,2\n", NonFiniteValue, "row 2, column 'date' is empty"),
        ("id,a\nx,1\n,2\n", NonFiniteValue, "row 2, column 'id' is empty"),
    ],
)
def test_bad_time_and_id_cells_name_row_and_column(
    tmp_path: Path, text: str, error: type, needle: str
) -> None:
    path = csv(tmp_path, text)
    column = "date" if text.startswith("date") else None
    with pytest.raises(error, match=needle):
        list(CsvChunkSource(path, 1).chunks(["a"], time=column, series=None if column else "id"))
