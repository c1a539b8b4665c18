"""Cut (past -> future) windows out of a stream of chunks, across chunk borders.

Between chunks we carry the last `length - 1` rows, so every window is produced exactly once, by
the chunk that holds its last row, whatever the chunk size. Memory is one chunk plus that tail.
"""

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from thunder.domain.values import Chunk, FloatArray, WindowBatch, WindowSpec


class WindowCutter:
    def __init__(
        self, window: WindowSpec, input_idx: Sequence[int], target_idx: Sequence[int]
    ) -> None:
        self._window = window
        self._inputs = np.asarray(input_idx, dtype=np.intp)
        self._targets = np.asarray(target_idx, dtype=np.intp)

    def cut(self, chunks: Iterable[Chunk], origins: range) -> Iterator[WindowBatch]:
        """Yield, chunk by chunk, the windows whose forecast origin lies in `origins`."""
        if len(origins) == 0:
            return
        past, length = self._window.past_steps, self._window.length
        tail: FloatArray | None = None
        for chunk in chunks:
            buf = chunk.values if tail is None else np.concatenate([tail, chunk.values])
            buf_start = chunk.start - (0 if tail is None else len(tail))
            tail = buf[-(length - 1) :] if length > 1 else buf[:0]
            if len(buf) < length:
                continue
            # origin of window k is buf_start + k + past
            lo = max(origins.start - past - buf_start, 0)
            hi = min(origins.stop - past - buf_start, len(buf) - length + 1)
            if lo < hi:
                yield self._batch(buf[lo : hi + length - 1])
            if buf_start + len(buf) - length + 1 + past >= origins.stop:
                return  # every wanted window is out; stop reading

    def _batch(self, rows: FloatArray) -> WindowBatch:
        past = self._window.past_steps
        win = sliding_window_view(rows, self._window.length, axis=0)  # [n, cols, length]
        win = win.transpose(0, 2, 1)  # [n, cols, length] -> [n, length, cols]
        x = win[:, :past][:, :, self._inputs]  # [n, past, inputs]
        y = win[:, past:][:, :, self._targets]  # [n, future, targets]
        last = win[:, past - 1][:, self._targets]  # [n, targets]
        return WindowBatch(
            x=np.ascontiguousarray(x, dtype=np.float32),
            y=np.ascontiguousarray(y, dtype=np.float32),
            last=np.ascontiguousarray(last, dtype=np.float32),
        )
