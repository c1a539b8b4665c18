"""ArtifactStore: the in-memory fake and the filesystem store keep versions alike."""

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.unit.fakes import InMemoryArtifactStore
from thunder.adapters.filesystem_store import FilesystemArtifactStore
from thunder.domain.errors import ArtifactCorrupt, ArtifactError, ArtifactNotFound
from thunder.domain.ports import ArtifactStore


@dataclass
class Subject:
    store: ArtifactStore
    model: str  # two configured paths, as a training run publishes them
    card: str
    tamper: Callable[[str, bytes], None]  # change what a path holds behind the store's back
    break_next_publish: Callable[[], None]
    written: Callable[[str], bytes]  # what write_file left at a path


def _fake(tmp: Path, keep: int) -> Subject:
    store = InMemoryArtifactStore(keep=keep)

    def tamper(path: str, data: bytes) -> None:
        store.files[path] = data

    def break_next_publish() -> None:
        store.fail_on_commit = True

    def written(path: str) -> bytes:
        return store.written[path]

    return Subject(store, "model/model.pt", "model/card.json", tamper, break_next_publish, written)


def _filesystem(tmp: Path, keep: int) -> Subject:
    folder = tmp / "model"

    def tamper(path: str, data: bytes) -> None:
        Path(path).write_bytes(data)  # through the link: the current version's file

    def break_next_publish() -> None:
        # a file where the configured paths' folder was: their links cannot be made (this
        # fails for root too, unlike a read-only folder)
        shutil.rmtree(folder)
        folder.write_bytes(b"")

    return Subject(
        FilesystemArtifactStore(tmp / "store", keep=keep),
        str(folder / "model.pt"),
        str(folder / "card.json"),
        tamper,
        break_next_publish,
        lambda path: Path(path).read_bytes(),
    )


@pytest.fixture(params=[_fake, _filesystem], ids=["fake", "filesystem"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[int], Subject]:
    maker: Callable[[Path, int], Subject] = request.param

    def make(keep: int) -> Subject:
        return maker(tmp_path, keep)

    return make


@pytest.fixture
def subject(make: Callable[[int], Subject]) -> Subject:
    return make(5)


def _publish(s: Subject, tag: bytes) -> str:
    return s.store.publish({s.model: b"weights " + tag, s.card: b"card " + tag})


def test_nothing_published_is_no_version_and_no_artifact(subject: Subject) -> None:
    assert subject.store.current_version() is None
    assert subject.store.history() == []
    with pytest.raises(ArtifactNotFound, match="no such artifact"):
        subject.store.load([subject.model])


def test_with_nothing_published_plain_files_load_as_unversioned(subject: Subject) -> None:
    subject.store.write_file(subject.model, b"weights 0")  # as written before versioning
    loaded = subject.store.load([subject.model])
    assert (loaded.version, dict(loaded.files)) == ("unversioned", {subject.model: b"weights 0"})
    assert subject.store.current_version() is None
    with pytest.raises(ArtifactNotFound, match="no such artifact"):
        subject.store.load([subject.model, subject.card])


def test_a_published_version_becomes_current_and_loads_whole(subject: Subject) -> None:
    version = _publish(subject, b"1")
    assert subject.store.current_version() == version
    loaded = subject.store.load([subject.model, subject.card])
    assert loaded.version == version
    assert dict(loaded.files) == {subject.model: b"weights 1", subject.card: b"card 1"}
    assert dict(subject.store.load([subject.card]).files) == {subject.card: b"card 1"}


def test_an_older_version_loads_by_its_id(subject: Subject) -> None:
    first = _publish(subject, b"1")
    second = _publish(subject, b"2")
    assert first != second
    assert subject.store.load([subject.model], first).files[subject.model] == b"weights 1"
    assert subject.store.load([subject.model], second).files[subject.model] == b"weights 2"
    assert subject.store.load([subject.model]).version == second


def test_history_lists_the_versions_oldest_first(subject: Subject) -> None:
    versions = [_publish(subject, bytes([48 + i])) for i in range(3)]
    assert subject.store.history() == versions


def test_only_the_newest_versions_are_kept(make: Callable[[int], Subject]) -> None:
    subject = make(2)
    versions = [_publish(subject, bytes([48 + i])) for i in range(4)]
    assert subject.store.history() == versions[-2:]
    with pytest.raises(ArtifactNotFound):
        subject.store.load([subject.model], versions[0])


def test_activate_rolls_back_to_a_kept_version(subject: Subject) -> None:
    first = _publish(subject, b"1")
    second = _publish(subject, b"2")
    subject.store.activate(first)
    assert subject.store.current_version() == first
    assert subject.store.load([subject.model]).files[subject.model] == b"weights 1"
    assert subject.store.history() == [first, second]  # a rollback deletes nothing


def test_an_unknown_version_is_not_found_and_activating_it_changes_nothing(
    subject: Subject,
) -> None:
    version = _publish(subject, b"1")
    with pytest.raises(ArtifactNotFound):
        subject.store.activate("20200101T000000000000Z-deadbeef")
    with pytest.raises(ArtifactNotFound):
        subject.store.load([subject.model], "20200101T000000000000Z-deadbeef")
    assert subject.store.current_version() == version


def test_a_missing_path_in_a_version_is_not_found(subject: Subject) -> None:
    _publish(subject, b"1")
    with pytest.raises(ArtifactNotFound):
        subject.store.load([subject.model, str(Path(subject.model).with_name("other.pt"))])


def test_a_failed_publish_keeps_the_previous_version(subject: Subject) -> None:
    first = _publish(subject, b"1")
    subject.break_next_publish()
    with pytest.raises(ArtifactError):
        _publish(subject, b"2")
    assert subject.store.current_version() == first
    assert subject.store.history() == [first]
    assert subject.store.load([subject.model]).files[subject.model] == b"weights 1"


def test_a_file_changed_after_publishing_is_refused(subject: Subject) -> None:
    first = _publish(subject, b"1")
    second = _publish(subject, b"2")
    subject.tamper(subject.model, b"edited")
    with pytest.raises(ArtifactCorrupt):
        subject.store.load([subject.card])  # any file of the version: refused whole
    with pytest.raises(ArtifactCorrupt):
        subject.store.activate(second)
    subject.store.activate(first)  # an intact version can still be served
    assert subject.store.load([subject.card]).files[subject.card] == b"card 1"


def test_a_written_file_is_replaced_and_publishes_no_version(
    subject: Subject, tmp_path: Path
) -> None:
    version = _publish(subject, b"1")
    path = str(tmp_path / "exports" / "model.onnx")
    subject.store.write_file(path, b"old")
    subject.store.write_file(path, b"new")
    assert (subject.store.current_version(), subject.store.history()) == (version, [version])
    assert subject.written(path) == b"new"


def test_read_file_reads_a_written_file_and_the_current_versions_configured_path(
    subject: Subject, tmp_path: Path
) -> None:
    path = str(tmp_path / "elsewhere" / "model.pt")
    subject.store.write_file(path, b"outside")
    assert subject.store.read_file(path) == b"outside"
    _publish(subject, b"1")
    _publish(subject, b"2")
    assert subject.store.read_file(subject.model) == b"weights 2"
    with pytest.raises(ArtifactNotFound):
        subject.store.read_file(str(tmp_path / "nothing.pt"))
