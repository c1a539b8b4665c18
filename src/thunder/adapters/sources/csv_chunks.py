"""ChunkSource over a CSV file, read with pandas in chunks of `chunk_size` rows.

A `.gz`, `.bz2`, `.xz` or `.zst` suffix means a compressed file, decompressed as it streams.
Frames become Chunks through FrameColumns; pandas' and the OS's errors become DataErrors that
name the file, the row (1-based, header excluded) and the column.
"""

import bz2
import csv
import gzip
import lzma
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Literal, cast

import pandas as pd
import zstandard

from thunder.adapters.messages import first_line
from thunder.adapters.sources.frame_columns import FileSource, FrameColumns
from thunder.domain.errors import DataError, MalformedRow
from thunder.domain.values import Chunk

ENCODING = "utf-8-sig"  # UTF-8, and a byte-order mark (as Excel writes one) is skipped
# suffix -> pandas' name for the codec
Codec = Literal["gzip", "bz2", "xz", "zstd"]
COMPRESSION: dict[str, Codec] = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd"}
# what a damaged compressed stream raises, by codec
_DAMAGED = (EOFError, gzip.BadGzipFile, lzma.LZMAError, zstandard.ZstdError)
_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


class CsvChunkSource(FileSource):
    def header(self) -> Sequence[str]:
        try:
            with _open_text(self._path) as f:
                row = next(csv.reader(f), None)
        except FileNotFoundError:
            raise DataError(f"{self.name}: no such file") from None
        except IsADirectoryError:
            raise DataError(f"{self.name}: is a directory, not a CSV file") from None
        except UnicodeDecodeError:
            raise DataError(f"{self.name}: not a UTF-8 text file") from None
        except (*_DAMAGED, OSError) as e:
            raise DataError(f"{self.name}: cannot read ({_reason(e, self._path)})") from None
        if not row:
            raise DataError(f"{self.name}: the file is empty (expected a header row)")
        return [c.strip() for c in row]

    def chunks(
        self, columns: Sequence[str], *, time: str | None = None, series: str | None = None
    ) -> Iterator[Chunk]:
        convert = FrameColumns(self.name, columns, time, series)
        header = self.header()
        convert.check_header(header, _delimiter_hint(header))
        start = 0
        try:
            reader = pd.read_csv(
                self._path,
                # no usecols: with it pandas silently accepts rows with extra fields
                index_col=False,
                chunksize=self._chunk_size,
                skipinitialspace=True,
                encoding=ENCODING,
                dtype={series: str} if series else None,
                compression=_compression(self._path),
            )
            with reader:
                for frame in reader:
                    yield convert.chunk(frame, start)
                    start += len(frame)
        except pd.errors.ParserError as e:
            raise MalformedRow(f"{self.name}: {_parser_problem(e)}") from None
        except UnicodeDecodeError:
            raise DataError(f"{self.name}: not a UTF-8 text file") from None
        except (*_DAMAGED, OSError) as e:
            raise DataError(f"{self.name}: cannot read ({_reason(e, self._path)})") from None
        if start == 0:
            raise DataError(f"{self.name}: the file has a header but no data rows")


def _compression(path: Path) -> Codec | None:
    return COMPRESSION.get(path.suffix.lower())


def _open_text(path: Path) -> IO[str]:
    kind = _compression(path)
    if kind == "gzip":
        return gzip.open(path, "rt", encoding=ENCODING, newline="")
    if kind == "bz2":
        return bz2.open(path, "rt", encoding=ENCODING, newline="")
    if kind == "xz":
        return lzma.open(path, "rt", encoding=ENCODING, newline="")
    if kind == "zstd":
        return cast(IO[str], zstandard.open(path, "rt", encoding=ENCODING, newline=""))
    return path.open(newline="", encoding=ENCODING)


def _reason(error: BaseException, path: Path) -> str:
    if isinstance(error, _DAMAGED) or (isinstance(error, OSError) and error.strerror is None):
        return f"not a valid {_compression(path) or 'CSV'} file: {error}"
    return str(getattr(error, "strerror", None) or error)


def _delimiter_hint(header: Sequence[str]) -> str:
    """A ';'- or tab-separated file reads as one column whose name holds all the others."""
    for sep, name in ((";", "';'"), ("\t", "tab"), ("|", "'|'")):
        if any(sep in column for column in header):
            return f" (the header looks {name}-separated; thunder reads comma-separated files)"
    return ""


def _parser_problem(error: Exception) -> str:
    """pandas' tokenizer message in thunder's words; its 'line' counts every line of the file."""
    text = str(error)
    if m := _FIELDS.search(text):
        expected, line, saw = m.groups()
        return (
            f"line {line}: {saw} fields where the header has {expected} "
            f"(quote a value that contains a comma)"
        )
    if m := _OPEN_QUOTE.search(text):
        return f'row {m.group(1)}: a quoted value is never closed (an unmatched ")'
    return f"malformed CSV: {first_line(error, None)}"
