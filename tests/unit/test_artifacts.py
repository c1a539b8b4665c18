import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from thunder.adapters.filesystem_store import FilesystemArtifactStore
from thunder.adapters.sklearn_preprocessor import SklearnPreprocessor
from thunder.domain.errors import ArtifactCorrupt, ArtifactError, ArtifactNotFound


def test_store_writes_all_files_and_creates_directories(tmp_path: Path) -> None:
    store = FilesystemArtifactStore()
    files = {str(tmp_path / "m" / "model.pth"): b"weights", str(tmp_path / "p" / "pre.pkl"): b"{}"}
    store.write_all(files)
    assert {p: store.read(p) for p in files} == files
    assert not [f for f in tmp_path.rglob("*.tmp")], "no staged file is left behind"


def test_a_failed_write_leaves_the_previous_artifacts_and_no_temp_files(tmp_path: Path) -> None:
    store = FilesystemArtifactStore()
    model = str(tmp_path / "model.pth")
    store.write_all({model: b"old"})
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where a directory must go: the second write cannot stage
    with pytest.raises(ArtifactError):
        store.write_all({model: b"new", str(blocker / "sub" / "pre.pkl"): b"{}"})
    assert store.read(model) == b"old"
    assert sorted(os.listdir(tmp_path)) == ["file", "model.pth"]


def test_reading_a_missing_artifact_names_it(tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFound, match=r"nope\.pth"):
        FilesystemArtifactStore().read(str(tmp_path / "nope.pth"))


def test_partial_fit_over_chunks_equals_one_batch_fit() -> None:
    data = np.random.default_rng(0).normal(5, 3, size=(1000, 3)).astype(np.float32)
    pre = SklearnPreprocessor(["a", "b", "c"])
    for start in range(0, 1000, 77):
        pre.partial_fit(data[start : start + 77])
    batch = StandardScaler().fit(data.astype(np.float64))
    np.testing.assert_allclose(
        pre.transform(data, ["a", "b", "c"]), batch.transform(data), atol=1e-5
    )


def test_preprocessor_round_trips_through_json_and_inverts() -> None:
    data = np.random.default_rng(1).normal(20, 4, size=(50, 2)).astype(np.float32)
    pre = SklearnPreprocessor(["x", "y"])
    pre.partial_fit(data)
    loaded = SklearnPreprocessor.from_bytes(pre.to_bytes())
    np.testing.assert_allclose(loaded.transform(data, ["x", "y"]), pre.transform(data, ["x", "y"]))
    scaled_y = pre.transform(data[:, [1]], ["y"])
    np.testing.assert_allclose(loaded.inverse_transform(scaled_y, ["y"]), data[:, [1]], rtol=1e-5)


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x80\x04pickle", b'{"format": "other"}', b'{"format": "thunder.standard_scaler.v1"}'],
)
def test_a_corrupt_preprocessor_is_refused_without_unpickling(blob: bytes) -> None:
    with pytest.raises(ArtifactCorrupt, match="not a thunder preprocessor"):
        SklearnPreprocessor.from_bytes(blob, "pre.pkl")
