"""The ChunkSource a Python call reads: a file through the same reader `thunder chunk` uses, or
DataFrames through the container's frame source."""

import contextlib
import os
import tempfile
from collections.abc import Iterator

from thunder.app.container import Container
from thunder.app.paths import cache_dir
from thunder.domain.errors import ArtifactError
from thunder.domain.ports import ChunkSource
from thunder.entrypoints.library.frames import frames_of


@contextlib.contextmanager
def source_of(
    container: Container, data: object, chunk_size: int, time_name: str | None
) -> Iterator[ChunkSource]:
    """`data` as a source of `chunk_size`-row chunks, for the length of the `with` block: a
    path (CSV, compressed CSV or Parquet, by its suffix), a DataFrame, a sequence of them, or
    any iterable of them (a one-shot generator is written once to a temporary Parquet file in
    the cache folder, removed when the block ends). `time_name` names an unnamed
    DatetimeIndex."""
    if isinstance(data, str | os.PathLike):
        yield container.chunk_source(path=os.fspath(data), chunk_size=chunk_size)
        return
    frames, name = frames_of(data, time_name or "date")
    with _spill_dir(cache_dir(container.settings())) as spill:
        yield container.frame_source(
            frames=frames, chunk_size=chunk_size, name=name, spill_dir=spill
        )


@contextlib.contextmanager
def _spill_dir(parent: os.PathLike[str]) -> Iterator[str]:
    try:
        os.makedirs(parent, exist_ok=True)
        spill = tempfile.TemporaryDirectory(prefix=".frames-", dir=parent)
    except OSError as e:
        raise ArtifactError(
            f"{parent}: cannot hold a copy of the frames (preprocessing_config.cache_dir): "
            f"{e.strerror}",
            field="preprocessing_config.cache_dir",
        ) from None
    with spill as path:
        yield path
