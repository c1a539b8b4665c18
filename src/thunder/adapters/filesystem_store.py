"""ArtifactStore on the local filesystem: one directory per trained version, a `current` pointer.

    <root>/versions/20261123T193300123456Z-8f3a2c1d/   model.pt, preprocessor.json, ...,
                                                     manifest.json (sha256 and size of each)
    <root>/current -> versions/20261123T193300123456Z-8f3a2c1d      (a relative symlink)
    <model_path>   -> current/model.pt   (and the same for every configured path)

A version is staged in a hidden directory, fsynced, and renamed into `versions/` whole; only
then does `current` flip, by renaming a new symlink over it. Both renames are atomic on POSIX,
so a process killed at any moment leaves `current` on a complete version: the previous one
until the flip, the new one after it. Readers resolve `current` once and check every file
against the manifest, so they never mix two versions or serve a truncated or edited file.
The configured paths are symlinks through `current`, so tools that open model_path directly
see the current version too. `root` is the directory of model_path.
"""

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thunder.domain.errors import ArtifactCorrupt, ArtifactError, ArtifactNotFound
from thunder.domain.values import ArtifactSet

MANIFEST = "manifest.json"
FORMAT = "thunder.manifest.v1"
UNVERSIONED = "unversioned"


class FilesystemArtifactStore:
    def __init__(self, root: str | Path, keep: int = 5) -> None:
        self.root = Path(root)
        self.keep = max(1, keep)  # versions kept, the current one always among them

    @property
    def versions(self) -> Path:
        return self.root / "versions"

    @property
    def current(self) -> Path:
        return self.root / "current"

    def publish(self, files: Mapping[str, bytes]) -> str:
        names = _names(files)
        try:
            self.versions.mkdir(parents=True, exist_ok=True)
            self._sweep_staging()
            version = self._stage_and_rename(files, names)
            links = {
                Path(path): os.path.relpath(self.current / name, Path(path).parent)
                for path, name in names.items()
            }
            # links go in before the flip, so a failure leaves the previous version current;
            # plain files from before versioning are replaced only after it
            legacy = {link for link in links if link.is_file() and not link.is_symlink()}
            try:
                for link in links.keys() - legacy:
                    _replace_with_symlink(link, links[link])
                _replace_with_symlink(self.current, f"versions/{version}")
            except BaseException:
                shutil.rmtree(self.versions / version, ignore_errors=True)
                raise
            _fsync_dir(self.root)
            for link in legacy:
                _replace_with_symlink(link, links[link])
            self._prune(version)
        except OSError as e:
            where = f" {e.filename}" if e.filename else ""
            raise ArtifactError(f"cannot write artifact{where}: {e.strerror}") from None
        return version

    def load(self, paths: Sequence[str], version: str | None = None) -> ArtifactSet:
        if version is None:
            version = self.current_version()
            if version is None:
                return _load_unversioned(paths)
        vdir = self.versions / version
        if not (vdir / MANIFEST).is_file():
            raise ArtifactNotFound(f"{vdir}: no such version (see `thunder versions`)")
        manifest = _manifest(_read(vdir / MANIFEST))
        wanted = {Path(path).name: path for path in paths}
        missing = [name for name in wanted if name not in manifest["files"]]
        if missing:
            raise ArtifactNotFound(f"{vdir}: this version has no '{missing[0]}'", field=missing[0])
        files = {}
        # every file of the version is checked, not only the ones asked for: a version that was
        # tampered with anywhere is refused whole
        for name, entry in manifest["files"].items():
            data = _read(vdir / name)
            if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise ArtifactCorrupt(
                    f"{vdir / name}: does not match its checksum in {MANIFEST} (truncated or "
                    "changed after training); restore it or train again"
                )
            if name in wanted:
                files[wanted[name]] = data
        return ArtifactSet(version=str(manifest["version"]), files=files)

    def current_version(self) -> str | None:
        """The version `current` points to; None before the first versioned publish."""
        try:
            target = os.readlink(self.current)
        except FileNotFoundError:
            return None
        except OSError:
            raise ArtifactCorrupt(f"{self.current}: not a symlink to a version") from None
        return Path(target).name

    def write_file(self, path: str, data: bytes) -> None:
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.chmod(tmp, 0o666 & ~_umask())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            _fsync_dir(target.parent)
        except OSError as e:
            raise ArtifactError(f"cannot write {path}: {e.strerror}") from None

    def read_file(self, path: str) -> bytes:
        return _read(Path(path))

    def history(self) -> list[str]:
        """Complete versions, oldest first."""
        if not self.versions.is_dir():
            return []
        return sorted(
            d.name
            for d in self.versions.iterdir()
            if not d.name.startswith(".") and (d / MANIFEST).is_file()
        )

    def activate(self, version: str) -> None:
        """Make a kept version current again (a rollback); its files are verified first."""
        vdir = self.versions / version
        if version not in self.history():
            raise ArtifactNotFound(f"{vdir}: no such version (see `thunder versions`)")
        self.load([], version)  # a load checks every file of the version
        try:
            _replace_with_symlink(self.current, f"versions/{version}")
            _fsync_dir(self.root)
        except OSError as e:
            raise ArtifactError(f"cannot switch {self.current}: {e.strerror}") from None

    def _stage_and_rename(self, files: Mapping[str, bytes], names: Mapping[str, str]) -> str:
        stage = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=self.versions))
        try:
            entries = {}
            for path, data in files.items():
                _write(stage / names[path], data)
                entries[names[path]] = {
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                }
            now = datetime.now(UTC)
            digest = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
            version = f"{now:%Y%m%dT%H%M%S%fZ}-{digest[:8]}"
            manifest = {
                "format": FORMAT,
                "version": version,
                "created_at": now.isoformat(timespec="seconds"),
                "files": entries,
            }
            # the manifest goes last: a version directory with one is complete
            _write(stage / MANIFEST, json.dumps(manifest, indent=2).encode())
            os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700; readers may be other users
            _fsync_dir(stage)
            os.rename(stage, self.versions / version)
            _fsync_dir(self.versions)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        return version

    def _sweep_staging(self) -> None:
        """What processes that died mid-write left (SIGKILL, power loss): staged directories,
        pruned ones not yet deleted and not yet renamed symlinks, all named with the pid."""
        for d in [*self.versions.glob(".staging-*"), *self.versions.glob(".trash-*")]:
            pid = d.name.split("-")[1]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(d, ignore_errors=True)
        for link in self.root.glob(".*.link"):
            pid = link.name.rsplit(".", 2)[-2]
            if pid.isdigit() and not _alive(int(pid)):
                link.unlink(missing_ok=True)

    def _prune(self, current: str) -> None:
        done = self.history()
        for name in done[: max(0, len(done) - self.keep)]:
            if name != current:
                # out of `versions/` in one rename first: a kill in the middle of the deletion
                # then leaves a hidden folder that the next sweep removes, not half a version
                trash = self.versions / f".trash-{os.getpid()}-{name}"
                os.rename(self.versions / name, trash)
                shutil.rmtree(trash, ignore_errors=True)


def _names(files: Mapping[str, bytes]) -> dict[str, str]:
    """File names inside a version directory: each path's base name, which must be unique."""
    names = {path: Path(path).name for path in files}
    seen: dict[str, str] = {}
    for path, name in names.items():
        if name in seen or name == MANIFEST:
            raise ArtifactError(
                f"{path}: artifacts need distinct file names (clashes with {seen.get(name, name)})"
            )
        seen[name] = path
    return names


def _load_unversioned(paths: Sequence[str]) -> ArtifactSet:
    """Artifacts written before versioning (plain files at the configured paths), no checksums."""
    return ArtifactSet(version=UNVERSIONED, files={path: _read(Path(path)) for path in paths})


def _manifest(data: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError("unknown format")
        if not isinstance(raw.get("files"), dict):
            raise ValueError("no file list")
        return raw
    except ValueError as e:
        raise ArtifactCorrupt(f"{MANIFEST}: not a thunder manifest ({e})") from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ArtifactNotFound(
            f"{path}: no such artifact (train a model first)", field=path.name
        ) from None
    except OSError as e:
        raise ArtifactError(f"{path}: cannot read ({e.strerror})") from None


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _replace_with_symlink(link: Path, target: str) -> None:
    """Point `link` at `target` atomically: a new symlink renamed over the old entry."""
    with contextlib.suppress(OSError):
        if os.readlink(link) == target:
            return
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.parent / f".{link.name}.{os.getpid()}.link"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
