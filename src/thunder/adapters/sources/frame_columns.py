"""One pandas frame of a chunked reader (CSV, Parquet) into a Chunk, checked.

Only the asked-for columns are converted; empty cells come out as NaN for the missing-value
policy to handle, series ids as integer codes (in order of first appearance, shared by all the
chunks of one pass), timestamps as int64 nanoseconds since the epoch (UTC). Problems raise a
DataError that names the file, the row (1-based, header excluded) and the column.
"""

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from thunder.domain.errors import DataError, MalformedRow, MissingColumn, NonFiniteValue
from thunder.domain.values import FLOAT32_MAX, Chunk, IndexArray


class FileSource:
    """What every file-backed ChunkSource shares: the path, the chunk size, the fingerprint."""

    def __init__(self, path: str | Path, chunk_size: int) -> None:
        if chunk_size < 1:
            raise DataError(f"chunk size must be a positive number of rows, got {chunk_size}")
        self._path = Path(path)
        self._chunk_size = chunk_size

    @property
    def name(self) -> str:
        return str(self._path)

    @property
    def chunk_rows(self) -> int:
        return self._chunk_size

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        with self._path.open("rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()


class FrameColumns:
    """The converter of one pass over a file: `chunk()` for each frame in order."""

    def __init__(
        self, name: str, columns: Sequence[str], time: str | None, series: str | None
    ) -> None:
        self.name = name
        self.columns, self.time, self.series = list(columns), time, series
        self._codes: dict[str, int] = {}
        self.names: list[str] = []  # grows as new series appear; chunks share it

    @property
    def wanted(self) -> list[str]:
        return [*self.columns, *(c for c in (self.time, self.series) if c is not None)]

    def check_header(self, header: Sequence[str], hint: str = "") -> None:
        missing = [c for c in self.wanted if c not in header]
        if missing:
            raise MissingColumn(
                f"{self.name}: missing column(s) {', '.join(map(repr, missing))}; "
                f"the header has {', '.join(map(repr, header))}{hint}",
                field=missing[0],
            )

    def chunk(self, frame: pd.DataFrame, start: int) -> Chunk:
        return Chunk(
            start=start,
            values=self.numeric(frame, self.columns, start),
            series=None if self.series is None else self.codes(frame, self.series, start),
            time=None if self.time is None else self.times(frame, self.time, start),
            names=self.names,
        )

    def numeric(self, frame: pd.DataFrame, columns: Sequence[str], start: int) -> np.ndarray:
        parsed = []
        for col in columns:
            series = frame[col]
            if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
                coerced = pd.to_numeric(series, errors="coerce")
                bad = np.flatnonzero(coerced.isna().to_numpy() & series.notna().to_numpy())
                if len(bad):
                    raise MalformedRow(
                        f"{self.name}: row {start + bad[0] + 1}, column '{col}': "
                        f"{series.iloc[bad[0]]!r} is not a number",
                        field=col,
                    )
                series = coerced
            column = series.to_numpy(dtype=np.float64, na_value=np.nan)
            bad = np.flatnonzero(np.isinf(column))
            if len(bad):  # an empty cell is NaN and left to the missing-value policy
                raise NonFiniteValue(
                    f"{self.name}: row {start + bad[0] + 1}, column '{col}' is not finite",
                    field=col,
                )
            bad = np.flatnonzero(np.abs(column) > FLOAT32_MAX)  # rows are kept as float32
            if len(bad):
                raise NonFiniteValue(
                    f"{self.name}: row {start + bad[0] + 1}, column '{col}': {column[bad[0]]:g} "
                    f"is beyond the float32 range (±{FLOAT32_MAX:.3g})",
                    field=col,
                )
            parsed.append(column)
        return np.stack(parsed, axis=1).astype(np.float32)  # [rows, columns]

    def codes(self, frame: pd.DataFrame, col: str, start: int) -> IndexArray:
        codes, names = self._codes, self.names
        local, uniques = pd.factorize(frame[col])
        if (local < 0).any():
            row = int(np.flatnonzero(local < 0)[0])
            raise NonFiniteValue(
                f"{self.name}: row {start + row + 1}, column '{col}' is empty (every row needs "
                f"its series id)",
                field=col,
            )
        to_global = np.empty(len(uniques), dtype=np.int64)
        for i, name in enumerate(uniques):
            key = str(name)
            if key not in codes:
                codes[key] = len(names)
                names.append(key)
            to_global[i] = codes[key]
        return to_global[local]

    def times(self, frame: pd.DataFrame, col: str, start: int) -> IndexArray:
        raw = frame[col]
        empty = np.flatnonzero(raw.isna().to_numpy())
        if len(empty):
            raise NonFiniteValue(
                f"{self.name}: row {start + empty[0] + 1}, column '{col}' is empty (every row "
                f"needs its timestamp)",
                field=col,
            )
        if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
            numbers = raw.to_numpy()
            if pd.api.types.is_integer_dtype(raw):
                return numbers.astype(np.int64)
            return np.round(numbers.astype(np.float64) * 1e9).astype(np.int64)
        for unit in (pa.timestamp("ns"), pa.timestamp("ns", tz="UTC")):
            try:  # Arrow's ISO 8601 cast: ~8x faster than pandas' parser on the same strings
                stamps = pc.cast(pa.array(raw), unit).to_numpy(zero_copy_only=False)
                return np.asarray(stamps.view(np.int64), dtype=np.int64)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                continue
        for fmt in ("ISO8601", "mixed"):  # pandas' exact ISO parser, then its guessing
            try:
                stamps = pd.to_datetime(raw, format=fmt, utc=True)
                return np.asarray(stamps.dt.as_unit("ns").astype("int64"), dtype=np.int64)
            except (ValueError, TypeError, OverflowError):
                continue
        parsed = pd.to_datetime(raw, format="mixed", utc=True, errors="coerce")
        bad = np.flatnonzero(parsed.isna().to_numpy())
        row = int(bad[0]) if len(bad) else 0
        raise MalformedRow(
            f"{self.name}: row {start + row + 1}, column '{col}': {raw.iloc[row]!r} is not a "
            f"date/time",
            field=col,
        )
