"""ChunkSource over a Parquet file: pyarrow reads `chunk_size` rows at a time.

Only the wanted columns are read (Parquet is columnar), one record batch in memory at a time,
so memory stays bounded as for CSV; typed columns (timestamps, floats) arrive typed and need no
text parsing. Frames become Chunks through the same FrameColumns as CSV, with the same checks.
"""

from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from thunder.adapters.sources.frame_columns import FileSource, FrameColumns
from thunder.domain.errors import DataError
from thunder.domain.values import Chunk


class ParquetChunkSource(FileSource):
    def header(self) -> Sequence[str]:
        return list(self._open().schema_arrow.names)

    def chunks(
        self, columns: Sequence[str], *, time: str | None = None, series: str | None = None
    ) -> Iterator[Chunk]:
        convert = FrameColumns(self.name, columns, time, series)
        file = self._open()
        convert.check_header(file.schema_arrow.names)
        start = 0
        try:
            for batch in file.iter_batches(batch_size=self._chunk_size, columns=convert.wanted):
                frame = batch.to_pandas()
                if series is not None:  # ids are text, as CSV gives them, whatever their type
                    frame[series] = frame[series].astype("string")
                yield convert.chunk(frame, start)
                start += len(frame)
        except (pa.ArrowException, OSError) as e:
            raise DataError(f"{self.name}: cannot read row {start + 1} onwards ({e})") from None
        if start == 0:
            raise DataError(f"{self.name}: the file has columns but no rows")

    def _open(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self._path)
        except FileNotFoundError:
            raise DataError(f"{self.name}: no such file") from None
        except IsADirectoryError:
            raise DataError(f"{self.name}: is a directory, not a Parquet file") from None
        except (pa.ArrowException, OSError) as e:
            raise DataError(f"{self.name}: not a readable Parquet file ({e})") from None
