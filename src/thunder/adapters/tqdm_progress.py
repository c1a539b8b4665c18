"""Progress over the data passes with tqdm (already installed with Lightning): rows/s, chunk k of
n and an ETA once the row count is known. Disabled, it passes the chunks straight through."""

import math
import sys
from collections.abc import Iterable, Iterator

from tqdm import tqdm

from thunder.domain.values import Chunk


class TqdmProgress:
    def __init__(self, enabled: bool, chunk_rows: int) -> None:
        self._enabled = enabled
        self._chunk_rows = chunk_rows

    def track(
        self, chunks: Iterable[Chunk], label: str, total_rows: int | None = None
    ) -> Iterator[Chunk]:
        if not self._enabled:
            yield from chunks
            return
        of = f"/{math.ceil(total_rows / self._chunk_rows)}" if total_rows else ""
        with tqdm(
            total=total_rows,
            desc=label,
            unit=" rows",
            unit_scale=True,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
        ) as bar:
            for k, chunk in enumerate(chunks, start=1):
                bar.update(len(chunk))
                bar.set_postfix_str(f"chunk {k}{of}", refresh=False)
                yield chunk
