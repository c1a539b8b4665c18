"""ChunkSource over pandas DataFrames handed in from Python (a notebook's frames).

A sequence of frames (a list, or one frame in a list) is read where it lies, `chunk_size` rows
at a time, through the same FrameColumns as CSV and Parquet, with the same checks. Any other
iterable may be a one-shot generator, while a ChunkSource must start from the top on every pass
(each epoch reads again): it is written once, a frame at a time, to a Parquet file in the
directory the caller gives, and read back from there. Only the columns are read: the caller
turns an index that holds data (a DatetimeIndex, a series id) into columns first.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from thunder.adapters.sources.frame_columns import FrameColumns
from thunder.adapters.sources.parquet_chunks import ParquetChunkSource
from thunder.domain.errors import DataError, InvalidArgument, MissingColumn
from thunder.domain.values import Chunk


def open_frames(
    frames: Iterable[pd.DataFrame], chunk_size: int, name: str, spill_dir: str | Path
) -> "FrameChunkSource | SpilledFrames":
    """A sequence is read in place; any other iterable is spilled once to `spill_dir`, which
    must outlive the source."""
    if isinstance(frames, pd.DataFrame):  # iterating a frame would give its column names
        return FrameChunkSource([frames], chunk_size, name)
    if isinstance(frames, Sequence):
        return FrameChunkSource(frames, chunk_size, name)
    return SpilledFrames(frames, chunk_size, name, Path(spill_dir))


class FrameChunkSource:
    def __init__(self, frames: Sequence[pd.DataFrame], chunk_size: int, name: str) -> None:
        if chunk_size < 1:
            raise DataError(f"chunk size must be a positive number of rows, got {chunk_size}")
        self._frames = [_checked(frame, k, name) for k, frame in enumerate(frames)]
        self._chunk_size = chunk_size
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def chunk_rows(self) -> int:
        return self._chunk_size

    def header(self) -> Sequence[str]:
        if not self._frames:
            raise DataError(f"{self._name}: no DataFrames, so no rows")
        return list(self._frames[0].columns)

    def chunks(
        self, columns: Sequence[str], *, time: str | None = None, series: str | None = None
    ) -> Iterator[Chunk]:
        convert = FrameColumns(self._name, columns, time, series)
        convert.check_header(self.header())
        start = 0
        for part in self._parts(convert.wanted):
            if series is not None:  # ids are text, as CSV gives them, whatever their type
                part = part.assign(**{series: part[series].astype("string")})
            yield convert.chunk(part, start)
            start += len(part)
        if start == 0:
            raise DataError(f"{self._name}: the DataFrame has columns but no rows")

    def _parts(self, wanted: list[str]) -> Iterator[pd.DataFrame]:
        """The `wanted` columns, `chunk_size` rows at a time across frame borders (as a file
        reader cuts a file), so a chunk holds no more than one chunk's rows."""
        pending: list[pd.DataFrame] = []
        held = 0
        for k, frame in enumerate(self._frames):
            missing = [c for c in wanted if c not in frame.columns]
            if missing:
                raise MissingColumn(
                    f"{_where(self._name, k)}: missing column(s) {', '.join(map(repr, missing))}; "
                    f"it has {', '.join(map(repr, frame.columns))}",
                    field=missing[0],
                )
            first = 0
            while first < len(frame):
                part = frame.iloc[first : first + self._chunk_size - held][wanted]
                pending.append(part)
                held, first = held + len(part), first + len(part)
                if held == self._chunk_size:
                    yield _joined(pending)
                    pending, held = [], 0
        if pending:
            yield _joined(pending)

    def fingerprint(self) -> str:
        """The column names and every row's values (pandas' stable row hash), frame by frame."""
        digest = hashlib.sha256(json.dumps(list(self.header())).encode())
        for frame in self._frames:
            rows = pd.util.hash_pandas_object(frame, index=False)
            digest.update(np.ascontiguousarray(rows.to_numpy()).tobytes())
        return digest.hexdigest()


class SpilledFrames(ParquetChunkSource):
    """A one-shot iterable of frames, written as Parquet (one frame in memory at a time) when
    first read, and read back from that file on every pass; named as the caller names them."""

    def __init__(
        self, frames: Iterable[pd.DataFrame], chunk_size: int, name: str, directory: Path
    ) -> None:
        super().__init__(directory / "frames.parquet", chunk_size)  # checks the chunk size first
        self._label = name
        self._pending: Iterable[pd.DataFrame] | None = frames

    @property
    def name(self) -> str:
        return self._label

    def header(self) -> Sequence[str]:
        self._spill()
        return super().header()

    def chunks(
        self, columns: Sequence[str], *, time: str | None = None, series: str | None = None
    ) -> Iterator[Chunk]:
        self._spill()
        return super().chunks(columns, time=time, series=series)

    def fingerprint(self) -> str:
        self._spill()
        return super().fingerprint()

    def _spill(self) -> None:
        """Once: the frames can be iterated only once."""
        if self._pending is not None:
            frames, self._pending = self._pending, None
            _spill(frames, self._path, self._label)


def _spill(frames: Iterable[pd.DataFrame], path: Path, name: str) -> None:
    written = False
    try:
        _write(frames, path, name)
        written = True
    finally:
        _staged(path).unlink(missing_ok=True)
        if not written:  # a half-written copy is never read
            path.unlink(missing_ok=True)


def _write(frames: Iterable[pd.DataFrame], path: Path, name: str) -> None:
    writer: pq.ParquetWriter | None = None
    at = path  # where the writer writes: `path`, or its staged copy once a column widened
    k = 0
    try:
        for k, frame in enumerate(frames):
            frame = _checked(frame, k, name)
            if writer is None:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                writer = pq.ParquetWriter(at, table.schema)
            else:
                _same_columns(frame, writer.schema, name, k)
                wider = _widened(writer.schema, frame)
                if not wider.equals(writer.schema):
                    writer, at = _rewritten(writer, at, wider, path)
                table = _like(frame, writer.schema, name, k)
            writer.write_table(table)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{_where(name, k)}: cannot be stored for reading again ({e})") from None
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise DataError(f"{name}: no DataFrames, so no rows")
    if at != path:
        at.replace(path)


def _widened(schema: pa.Schema, frame: pd.DataFrame) -> pa.Schema:
    """The schema with an integer column made float64 where `frame` holds floats there.

    Each frame infers its own dtypes (`pd.read_csv(..., chunksize=)`'s do): a column of whole
    numbers is int64 until a frame brings a decimal or an empty cell (NaN). Thunder reads values
    as float32 anyway; a column that stays integer (a time column of epoch nanoseconds, integer
    series ids) keeps its type and so its meaning.
    """
    for i, field in enumerate(schema):
        if pa.types.is_integer(field.type) and pd.api.types.is_float_dtype(frame.iloc[:, i]):
            schema = schema.set(i, field.with_type(pa.float64()))
    return schema


def _rewritten(
    writer: pq.ParquetWriter, at: Path, schema: pa.Schema, path: Path
) -> tuple[pq.ParquetWriter, Path]:
    """The rows written so far copied, a batch at a time, into a file of the wider schema, and
    a writer that appends to that copy."""
    writer.close()
    to = _staged(path) if at == path else path
    wider = pq.ParquetWriter(to, schema)
    try:
        for batch in pq.ParquetFile(at).iter_batches():
            wider.write_table(pa.Table.from_batches([batch]).cast(schema))
    except BaseException:
        wider.close()
        raise
    at.unlink()
    return wider, to


def _staged(path: Path) -> Path:
    return path.with_name(f"{path.name}.widening")


def _same_columns(frame: pd.DataFrame, schema: pa.Schema, name: str, k: int) -> None:
    if list(frame.columns) != list(schema.names):
        raise DataError(
            f"{_where(name, k)}: columns {list(frame.columns)} where the first frame has "
            f"{list(schema.names)}; every frame needs the same columns in the same order"
        )


def _like(frame: pd.DataFrame, schema: pa.Schema, name: str, k: int) -> pa.Table:
    """`frame` as a table with the columns and types of the frames before it."""
    try:
        return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        raise DataError(
            f"{_where(name, k)}: its column types differ from the first frame's ({e}); give "
            f"every frame the same dtypes"
        ) from None


def _joined(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _checked(frame: object, k: int, name: str) -> pd.DataFrame:
    """A DataFrame with text column names (as a CSV header has), each once."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidArgument(
            f"{_where(name, k)}: expected a pandas DataFrame, got {type(frame).__name__}"
        )
    named = frame.rename(columns=str)
    twice = named.columns[named.columns.duplicated()]
    if len(twice):
        raise DataError(f"{_where(name, k)}: column {twice[0]!r} appears more than once")
    return named


def _where(name: str, k: int) -> str:
    return f"{name}, frame {k + 1}"
