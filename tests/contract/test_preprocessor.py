"""Preprocessor: the centring fake and the sklearn scaler fit, scale and save alike."""

from collections.abc import Callable

import numpy as np
import pytest

from tests.unit.fakes import FakePreprocessor
from thunder.adapters.sklearn_preprocessor import SklearnPreprocessor
from thunder.domain.errors import ArtifactCorrupt, NotFitted
from thunder.domain.ports import Preprocessor

COLUMNS = ("a", "b", "c")
ROWS = (
    np.random.default_rng(0)
    .normal([5.0, -2.0, 100.0], [1.0, 3.0, 10.0], (40, 3))
    .astype(np.float32)
)
Kind = tuple[Callable[[tuple[str, ...]], Preprocessor], Callable[[bytes, str], Preprocessor]]


@pytest.fixture(
    params=[
        (FakePreprocessor, FakePreprocessor.from_bytes),
        (SklearnPreprocessor, SklearnPreprocessor.from_bytes),
    ],
    ids=["fake", "sklearn"],
)
def kind(request: pytest.FixtureRequest) -> Kind:
    made: Kind = request.param
    return made


def _fitted(kind: Kind, chunk: int = 7) -> Preprocessor:
    pre = kind[0](COLUMNS)
    for start in range(0, len(ROWS), chunk):
        pre.partial_fit(ROWS[start : start + chunk])
    return pre


def test_it_scales_the_columns_it_was_made_for(kind: Kind) -> None:
    assert tuple(_fitted(kind).columns) == COLUMNS


def test_fitting_in_chunks_equals_fitting_at_once(kind: Kind) -> None:
    whole = _fitted(kind, chunk=len(ROWS))
    for chunk in (1, 7, 13):
        np.testing.assert_allclose(
            _fitted(kind, chunk).transform(ROWS, COLUMNS), whole.transform(ROWS, COLUMNS), atol=1e-5
        )


def test_the_fitted_rows_come_out_centred(kind: Kind) -> None:
    scaled = _fitted(kind).transform(ROWS, COLUMNS)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-4)


@pytest.mark.parametrize("columns", [("a", "b", "c"), ("c", "a"), ("b",), ("c", "b", "a")])
def test_any_subset_of_columns_in_any_order_scales_as_in_the_whole(
    kind: Kind, columns: tuple[str, ...]
) -> None:
    pre = _fitted(kind)
    idx = [COLUMNS.index(c) for c in columns]
    subset = ROWS[:, idx]
    np.testing.assert_allclose(
        pre.transform(subset, columns), pre.transform(ROWS, COLUMNS)[:, idx], rtol=1e-6
    )
    windows = subset.reshape(4, 10, len(columns))  # [..., columns]: any leading axes
    round_trip = pre.inverse_transform(pre.transform(windows, columns), columns)
    assert round_trip.dtype == np.float32
    np.testing.assert_allclose(round_trip, windows, rtol=1e-5, atol=1e-4)


def test_bytes_load_back_to_the_same_scaling(kind: Kind) -> None:
    pre = _fitted(kind)
    loaded = kind[1](pre.to_bytes(), "preprocessor.json")
    assert tuple(loaded.columns) == COLUMNS
    np.testing.assert_allclose(loaded.transform(ROWS, COLUMNS), pre.transform(ROWS, COLUMNS))
    np.testing.assert_allclose(
        loaded.inverse_transform(ROWS[:, [2]], ["c"]), pre.inverse_transform(ROWS[:, [2]], ["c"])
    )


def test_an_unfitted_preprocessor_neither_scales_nor_saves(kind: Kind) -> None:
    pre = kind[0](COLUMNS)
    with pytest.raises(NotFitted):
        pre.transform(ROWS, COLUMNS)
    with pytest.raises(NotFitted):
        pre.inverse_transform(ROWS, COLUMNS)
    with pytest.raises(NotFitted):
        pre.to_bytes()


@pytest.mark.parametrize("blob", [b"", b"\x80\x04pickle", b"[1, 2]", b'{"columns": ["a"]}'])
def test_bytes_that_are_no_preprocessor_are_refused_as_corrupt(kind: Kind, blob: bytes) -> None:
    with pytest.raises(ArtifactCorrupt, match=r"preprocessor\.json"):
        kind[1](blob, "preprocessor.json")


@pytest.mark.parametrize("columns", [("a", "b", "c"), ("c", "a")])
def test_its_affine_numbers_are_what_transform_applies(
    kind: Kind, columns: tuple[str, ...]
) -> None:
    pre = _fitted(kind)
    mean, scale = pre.affine(columns)
    values = ROWS[:, [COLUMNS.index(c) for c in columns]]
    np.testing.assert_allclose((values - mean) / scale, pre.transform(values, columns), atol=1e-4)
    with pytest.raises(NotFitted):
        kind[0](COLUMNS).affine(columns)
