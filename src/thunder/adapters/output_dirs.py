"""Before training, not after it: every directory a run will write to must be able to take a file.

A model_path under /proc, a parent that is a plain file or a read-only mount otherwise surfaces
only when the artifacts are written, after the whole training. The check creates nothing that
stays: where a directory does not exist yet, it probes the nearest one above it that does.
"""

import tempfile
from collections.abc import Iterable
from pathlib import Path

from thunder.domain.errors import ArtifactError

Output = tuple[str, Path]  # (the setting that names it, the directory)


def check_writable(outputs: Iterable[Output], more: Iterable[Output] = ()) -> None:
    probed: set[Path] = set()
    for what, directory in (*outputs, *more):
        existing = _nearest_existing(directory)
        if not existing.is_dir():
            raise ArtifactError(
                f"{what}: cannot write to {directory}: {existing} is a file, not a directory",
                field=what,
            )
        if existing in probed:
            continue
        try:
            with tempfile.NamedTemporaryFile(dir=existing, prefix=".thunder-write-check-"):
                pass
        except OSError as e:
            raise ArtifactError(
                f"{what}: cannot write to {directory} ({e.strerror or e})", field=what
            ) from None
        probed.add(existing)


def _nearest_existing(directory: Path) -> Path:
    path = directory  # relative stays relative, so messages show the path as configured
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
