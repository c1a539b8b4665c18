import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from thunder.adapters.filesystem_store import FilesystemArtifactStore
from thunder.adapters.sklearn_preprocessor import SklearnPreprocessor
from thunder.domain.errors import ArtifactCorrupt, ArtifactError, ArtifactNotFound


def _files(root: Path, tag: bytes) -> dict[str, bytes]:
    return {
        str(root / "model.pt"): b"weights " + tag,
        str(root / "sub" / "preprocessor.json"): b"{} " + tag,
    }


def test_a_published_version_loads_through_current_and_the_configured_paths(
    tmp_path: Path,
) -> None:
    store = FilesystemArtifactStore(tmp_path)
    files = _files(tmp_path, b"1")
    version = store.publish(files)
    loaded = store.load(list(files))
    assert loaded.version == version
    assert loaded.files == files
    # model_path and preprocessor_path are symlinks through `current`: plain reads still work
    assert {p: Path(p).read_bytes() for p in files} == files
    assert os.readlink(tmp_path / "current") == f"versions/{version}"
    manifest = json.loads((tmp_path / "versions" / version / "manifest.json").read_text())
    assert manifest["files"]["model.pt"]["sha256"] == hashlib.sha256(b"weights 1").hexdigest()
    assert not [p for p in tmp_path.rglob(".*") if ".staging" in p.name or p.suffix == ".link"]


def test_a_new_version_flips_current_and_old_ones_are_pruned(tmp_path: Path) -> None:
    store = FilesystemArtifactStore(tmp_path, keep=2)
    versions = [store.publish(_files(tmp_path, str(i).encode())) for i in range(4)]
    assert len(set(versions)) == 4
    assert versions == sorted(versions), "ids sort in publishing order"
    assert store.load(list(_files(tmp_path, b""))).files == _files(tmp_path, b"3")
    assert sorted(os.listdir(tmp_path / "versions")) == versions[2:]


def test_unversioned_artifacts_still_load_and_are_replaced_by_links(tmp_path: Path) -> None:
    files = _files(tmp_path, b"old")
    for path, data in files.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    store = FilesystemArtifactStore(tmp_path)
    assert store.load(list(files)).version == "unversioned"
    store.publish(_files(tmp_path, b"new"))
    assert all(Path(p).is_symlink() for p in files)
    assert store.load(list(files)).files == _files(tmp_path, b"new")


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: f.write_bytes(f.read_bytes()[:-1]),  # truncated
        lambda f: f.write_bytes(f.read_bytes().replace(b"1", b"2")),  # same size, other bytes
        lambda f: f.unlink(),
    ],
)
def test_a_tampered_or_truncated_file_is_refused_naming_it(
    tmp_path: Path, damage: Callable[[Path], object]
) -> None:
    store = FilesystemArtifactStore(tmp_path)
    files = _files(tmp_path, b"1")
    version = store.publish(files)
    damage(tmp_path / "versions" / version / "model.pt")
    with pytest.raises(ArtifactError, match=r"model\.pt"):
        store.load(list(files))


def test_a_failed_publish_keeps_the_current_version_and_leaves_no_staging(tmp_path: Path) -> None:
    store = FilesystemArtifactStore(tmp_path)
    files = _files(tmp_path, b"1")
    store.publish(files)
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where a directory must go: the new links cannot be made
    with pytest.raises(ArtifactError):
        store.publish({**_files(tmp_path, b"2"), str(blocker / "card.json"): b"{}"})
    assert store.load(list(files)).files == files
    assert len(os.listdir(tmp_path / "versions")) == 1, "nothing staged or half-published is left"


def test_two_artifacts_with_one_file_name_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="distinct file names"):
        FilesystemArtifactStore(tmp_path).publish(
            {str(tmp_path / "a" / "m.pt"): b"1", str(tmp_path / "b" / "m.pt"): b"2"}
        )


def test_reading_a_missing_artifact_names_it(tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFound, match=r"nope\.pth"):
        FilesystemArtifactStore(tmp_path).load([str(tmp_path / "nope.pth")])


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


def test_rollback_makes_a_kept_version_current_after_checking_it(tmp_path: Path) -> None:
    store = FilesystemArtifactStore(tmp_path)
    first = store.publish(_files(tmp_path, b"1"))
    second = store.publish(_files(tmp_path, b"2"))
    assert (store.history(), store.current_version()) == ([first, second], second)
    store.activate(first)
    assert store.current_version() == first
    assert {p: Path(p).read_bytes() for p in _files(tmp_path, b"")} == _files(tmp_path, b"1")
    (tmp_path / "versions" / second / "model.pt").write_bytes(b"edited")
    with pytest.raises(ArtifactCorrupt, match="checksum"):
        store.activate(second)
    with pytest.raises(ArtifactNotFound, match="no such version"):
        store.activate("20200101T000000000000Z-deadbeef")
    assert store.current_version() == first
