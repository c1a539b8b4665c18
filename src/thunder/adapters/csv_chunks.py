"""ChunkSource over a CSV file, read with pandas in chunks of `chunk_size` rows.

Only the asked-for columns are parsed; every pandas/OS error is translated into a DataError that
names the file, the row (1-based, header excluded) and the column.
"""

import csv
import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from thunder.domain.errors import DataError, MalformedRow, MissingColumn, NonFiniteValue
from thunder.domain.values import Chunk


class CsvChunkSource:
    def __init__(self, path: str | Path, chunk_size: int) -> None:
        if chunk_size < 1:
            raise DataError(f"chunk size must be a positive number of rows, got {chunk_size}")
        self._path = Path(path)
        self._chunk_size = chunk_size

    @property
    def name(self) -> str:
        return str(self._path)

    def header(self) -> Sequence[str]:
        try:
            with self._path.open(newline="", encoding="utf-8") as f:
                row = next(csv.reader(f), None)
        except FileNotFoundError:
            raise DataError(f"{self.name}: no such file") from None
        except IsADirectoryError:
            raise DataError(f"{self.name}: is a directory, not a CSV file") from None
        except UnicodeDecodeError:
            raise DataError(f"{self.name}: not a UTF-8 text file") from None
        except OSError as e:
            raise DataError(f"{self.name}: cannot read ({e.strerror})") from None
        if not row:
            raise DataError(f"{self.name}: the file is empty (expected a header row)")
        return [c.strip() for c in row]

    def chunks(self, columns: Sequence[str]) -> Iterator[Chunk]:
        header = self.header()
        missing = [c for c in columns if c not in header]
        if missing:
            raise MissingColumn(
                f"{self.name}: missing column(s) {', '.join(map(repr, missing))}; "
                f"the header has {', '.join(map(repr, header))}",
                field=missing[0],
            )
        start = 0
        try:
            reader = pd.read_csv(
                self._path,
                # no usecols: with it pandas silently accepts rows with extra fields
                index_col=False,
                chunksize=self._chunk_size,
                skipinitialspace=True,
                encoding="utf-8",
            )
            with reader:
                for frame in reader:
                    yield Chunk(start=start, values=self._numeric(frame, columns, start))
                    start += len(frame)
        except pd.errors.ParserError as e:
            raise MalformedRow(f"{self.name}: malformed CSV: {_first_line(e)}") from None
        except UnicodeDecodeError:
            raise DataError(f"{self.name}: not a UTF-8 text file") from None
        if start == 0:
            raise DataError(f"{self.name}: the file has a header but no data rows")

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        with self._path.open("rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    def _numeric(self, frame: pd.DataFrame, columns: Sequence[str], start: int) -> np.ndarray:
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
            bad = np.flatnonzero(~np.isfinite(column))
            if len(bad):
                what = "is empty" if np.isnan(column[bad[0]]) else "is not finite"
                raise NonFiniteValue(
                    f"{self.name}: row {start + bad[0] + 1}, column '{col}' {what}", field=col
                )
            parsed.append(column)
        return np.stack(parsed, axis=1).astype(np.float32)  # [rows, columns]


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
