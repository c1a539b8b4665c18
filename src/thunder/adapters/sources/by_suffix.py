"""The ChunkSource for a path, chosen by its suffix: Parquet, else CSV (maybe compressed)."""

from pathlib import Path

from thunder.adapters.sources.csv_chunks import CsvChunkSource
from thunder.adapters.sources.parquet_chunks import ParquetChunkSource

PARQUET = (".parquet", ".pq")


def open_source(path: str | Path, chunk_size: int) -> CsvChunkSource | ParquetChunkSource:
    if Path(path).suffix.lower() in PARQUET:
        return ParquetChunkSource(path, chunk_size)
    return CsvChunkSource(path, chunk_size)
