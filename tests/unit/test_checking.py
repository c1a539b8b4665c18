import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thunder.domain.data.checking import Missing, RowChecker
from thunder.domain.errors import NonFiniteValue, OutOfOrder
from thunder.domain.values import Chunk

NAN = np.nan


def run(
    values: list[list[float]],
    size: int,
    missing: Missing = "error",
    codes: list[int] | None = None,
    times: list[int] | None = None,
) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float32)
    code_arr = None if codes is None else np.asarray(codes, dtype=np.int64)
    time_arr = None if times is None else np.asarray(times, dtype=np.int64)
    chunks = [
        Chunk(
            s,
            arr[s : s + size],
            None if code_arr is None else code_arr[s : s + size],
            None if time_arr is None else time_arr[s : s + size],
            names=("a", "b"),
        )
        for s in range(0, len(arr), size)
    ]
    out = list(RowChecker("f.csv", ["x", "y"], missing, "date")(chunks))
    return np.concatenate([c.values for c in out])


def test_an_empty_cell_is_an_error_naming_row_and_column_by_default() -> None:
    with pytest.raises(NonFiniteValue, match=r"f.csv: row 3, column 'y' is empty .*\"ffill\""):
        run([[1, 1], [2, 2], [3, NAN]], size=2)


def test_drop_removes_rows_with_an_empty_cell() -> None:
    out = run([[1, 1], [NAN, 2], [3, 3], [4, NAN]], size=3, missing="drop")
    assert out.tolist() == [[1, 1], [3, 3]]


def test_ffill_copies_the_last_value_of_the_same_series_across_chunks() -> None:
    out = run(
        [[1, 10], [2, 20], [NAN, NAN], [NAN, 40], [5, NAN]],
        size=2,
        missing="ffill",
        codes=[0, 1, 0, 1, 1],
    )
    assert out.tolist() == [[1, 10], [2, 20], [1, 10], [2, 40], [5, 40]]


def test_ffill_cannot_fill_the_first_row_of_a_series() -> None:
    with pytest.raises(NonFiniteValue, match=r"row 2, column 'x' is empty and opens series 'b'"):
        run([[1, 1], [NAN, 2]], size=5, missing="ffill", codes=[0, 1])


def test_time_order_is_checked_within_each_series_across_chunks() -> None:
    # series a: 1, 2, 3; series b: 1, 5 -- interleaved, each in order
    run([[0, 0]] * 5, size=2, codes=[0, 1, 0, 1, 0], times=[1, 1, 2, 5, 3])
    with pytest.raises(OutOfOrder, match=r"row 5, column 'date': the timestamp goes back .* 'a'"):
        run([[0, 0]] * 5, size=2, codes=[0, 1, 0, 1, 0], times=[1, 1, 3, 5, 2])


def test_a_repeated_timestamp_is_named_as_a_duplicate() -> None:
    with pytest.raises(OutOfOrder, match=r"row 3, column 'date': the timestamp repeats"):
        run([[0, 0]] * 3, size=1, times=[1, 2, 2])


def test_rows_named_in_errors_are_file_rows_even_after_dropping() -> None:
    with pytest.raises(OutOfOrder, match=r"row 4, column 'date'"):
        run([[NAN, 0], [1, 1], [2, 2], [3, 3]], size=4, missing="drop", times=[9, 1, 2, 2])


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 12)), min_size=1, max_size=60),
    size=st.integers(1, 20),
)
def test_the_first_out_of_order_row_is_found_whatever_the_chunking(
    rows: list[tuple[int, int]], size: int
) -> None:
    last: dict[int, int] = {}
    expected = None
    for i, (code, t) in enumerate(rows):
        if code in last and t <= last[code]:
            expected = i + 1
            break
        last[code] = t
    codes, times = [c for c, _ in rows], [t for _, t in rows]
    if expected is None:
        run([[0, 0]] * len(rows), size=size, codes=codes, times=times)
    else:
        with pytest.raises(OutOfOrder, match=rf"row {expected}, "):
            run([[0, 0]] * len(rows), size=size, codes=codes, times=times)
