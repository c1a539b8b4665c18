"""RowCache on disk: checked rows as raw float32 (and int32 series codes), read back in chunks.

Parsing a CSV costs about 1 µs per row here; reading these files back costs a few ns, so every
pass after the first (scaler fit, each epoch, validation, test) skips the parser. Files are read
with plain buffered reads, not mmap: mapped pages would count towards the process's RSS.

An entry is `<key>.f32`, `<key>.i32` (multi-series only) and `<key>.json`; the JSON is written
last, so an entry without it is an interrupted build and is ignored.
"""

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from thunder.domain.data.table import RowCounter
from thunder.domain.values import Chunk

FORMAT = 2  # 2: the sampling step is kept


class CachedTable:
    def __init__(self, base: Path, meta: Mapping[str, Any], chunk_rows: int) -> None:
        self._values = base.with_suffix(".f32")
        self._codes = base.with_suffix(".i32") if meta["multi_series"] else None
        self._width = int(meta["columns"])
        self._rows = int(meta["rows"])
        self._counts = {int(k): int(v) for k, v in meta["counts"].items()}
        self._names = tuple(meta["names"])
        self._step: float | None = meta["step_seconds"]
        self._chunk_rows = chunk_rows

    @property
    def counts(self) -> Mapping[int, int]:
        return self._counts

    @property
    def names(self) -> Sequence[str]:
        return self._names

    @property
    def step_seconds(self) -> float | None:
        return self._step

    def chunks(self) -> Iterator[Chunk]:
        with contextlib.ExitStack() as stack:
            values = stack.enter_context(self._values.open("rb"))
            codes = stack.enter_context(self._codes.open("rb")) if self._codes else None
            for start in range(0, self._rows, self._chunk_rows):
                n = min(self._chunk_rows, self._rows - start)
                block = np.fromfile(values, dtype=np.float32, count=n * self._width)
                series = None
                if codes is not None:
                    series = np.fromfile(codes, dtype=np.int32, count=n).astype(np.int64)
                yield Chunk(start, block.reshape(n, self._width), series, None, self._names)


class BinaryRowCache:
    def __init__(self, directory: str | Path, chunk_rows: int) -> None:
        self._dir = Path(directory)
        self._chunk_rows = chunk_rows

    def open(self, key: str) -> CachedTable | None:
        base = self._dir / key
        try:
            meta = json.loads(base.with_suffix(".json").read_text())
            if meta.get("format") != FORMAT:
                return None
            expected = int(meta["rows"]) * int(meta["columns"]) * 4
            if base.with_suffix(".f32").stat().st_size != expected:
                return None
            if (
                meta["multi_series"]
                and base.with_suffix(".i32").stat().st_size != int(meta["rows"]) * 4
            ):
                return None
            return CachedTable(base, meta, self._chunk_rows)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # no entry, or a damaged one: the caller rebuilds it

    def build(self, key: str, rows: Iterable[Chunk], origin: str) -> CachedTable:
        self._dir.mkdir(parents=True, exist_ok=True)
        base = self._dir / key
        # the pid: ranks of a distributed run without a shared filesystem may build one entry at once
        staged = {
            s: base.with_name(f".{key}{s}.{os.getpid()}.tmp") for s in (".f32", ".i32", ".json")
        }
        counter = RowCounter()
        total, width = 0, 0
        try:
            with staged[".f32"].open("wb") as values, staged[".i32"].open("wb") as codes:
                for chunk in rows:
                    width = chunk.values.shape[1]
                    np.ascontiguousarray(chunk.values, dtype=np.float32).tofile(values)
                    total += len(chunk)
                    counter.add(chunk)
                    if chunk.series is not None:
                        chunk.series.astype(np.int32).tofile(codes)
            multi = bool(counter.names)
            meta = {
                "format": FORMAT,
                "origin": origin,
                "rows": total,
                "columns": width,
                "multi_series": multi,
                "counts": counter.counts,
                "names": list(counter.names),
                "step_seconds": counter.step_seconds,
            }
            staged[".json"].write_text(json.dumps(meta))
            os.replace(staged[".f32"], base.with_suffix(".f32"))
            if multi:
                os.replace(staged[".i32"], base.with_suffix(".i32"))
            os.replace(staged[".json"], base.with_suffix(".json"))  # last: the entry now exists
        finally:
            for path in staged.values():
                path.unlink(missing_ok=True)
        self._drop_older(origin, keep=key)
        return CachedTable(base, meta, self._chunk_rows)

    def _drop_older(self, origin: str, keep: str) -> None:
        """One entry per input file: an edited CSV's old cache is only dead weight on disk."""
        for meta_file in self._dir.glob("*.json"):
            if meta_file.stem == keep:
                continue
            try:
                if json.loads(meta_file.read_text()).get("origin") != origin:
                    continue
            except (OSError, ValueError):
                continue
            for suffix in (".json", ".f32", ".i32"):
                meta_file.with_suffix(suffix).unlink(missing_ok=True)
