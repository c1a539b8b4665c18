"""ArtifactStore on the local filesystem: stage every file, fsync, then os.replace each one.

A failure before the renames leaves every previous artifact untouched and removes the staged
files; os.replace is atomic per file on POSIX, so a reader sees either the old file or the new.
"""

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from thunder.domain.errors import ArtifactError, ArtifactNotFound


class FilesystemArtifactStore:
    def read(self, path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except FileNotFoundError:
            raise ArtifactNotFound(f"{path}: no such artifact (train a model first)") from None
        except OSError as e:
            raise ArtifactError(f"{path}: cannot read ({e.strerror})") from None

    def write_all(self, files: Mapping[str, bytes]) -> None:
        staged: list[tuple[str, Path]] = []
        try:
            for path, data in files.items():
                staged.append((self._stage(Path(path), data), Path(path)))
            for tmp, final in staged:
                os.replace(tmp, final)
            for directory in {final.parent for _, final in staged}:
                _fsync_dir(directory)
        except OSError as e:
            raise ArtifactError(f"cannot write artifact {e.filename or ''}: {e.strerror}") from None
        finally:
            for tmp, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    def _stage(self, final: Path, data: bytes) -> str:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fchmod(f.fileno(), 0o666 & ~_umask())  # mkstemp makes 0600; keep the usual mode
                os.fsync(f.fileno())
        except BaseException:
            os.unlink(tmp)
            raise
        return tmp


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
