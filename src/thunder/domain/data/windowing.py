"""Cut (past -> future) windows out of a stream of chunks, across chunk borders, per series.

For each series we carry its last `length - 1` rows from one chunk to the next, so every window
is produced exactly once, by the chunk that holds its last row, whatever the chunk size, and no
window mixes two series. Memory is one chunk plus that tail per series.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from thunder.domain.data.series import positioned
from thunder.domain.values import Chunk, FloatArray, WindowBatch, WindowSpec


class WindowCutter:
    def __init__(
        self, window: WindowSpec, input_idx: Sequence[int], target_idx: Sequence[int]
    ) -> None:
        self._window = window
        self._inputs = np.asarray(input_idx, dtype=np.intp)
        self._targets = np.asarray(target_idx, dtype=np.intp)
        self.largest_buffer = 0  # rows held at once, for the tests that prove the memory bound

    def cut(self, chunks: Iterable[Chunk], wanted: Mapping[int, range]) -> Iterator[WindowBatch]:
        """Yield, one batch per chunk, the windows whose origin (position within its series,
        see `splitting.origins`) lies in `wanted[series code]`."""
        length, future = self._window.length, self._window.future_steps
        tails: dict[int, FloatArray] = {}
        seen: dict[int, int] = {}  # rows of each series read so far
        pending = {code for code, r in wanted.items() if len(r)}
        if not pending:
            return
        for chunk in chunks:
            out: list[WindowBatch] = []
            for code, values, start in positioned(chunk, seen):
                want = wanted.get(code)
                if code not in pending or want is None:
                    continue
                tail = tails.get(code)
                buf = values if tail is None else np.concatenate([tail, values])
                self.largest_buffer = max(self.largest_buffer, len(buf))
                # a copy: a view would keep this whole chunk alive for as long as the series lasts
                tails[code] = buf[len(buf) - min(len(buf), length - 1) :].copy()
                batch = self._select(buf, start - (len(buf) - len(values)), want)
                if batch is not None:
                    out.append(batch)
                if seen[code] >= want[-1] + future:
                    pending.discard(code)
                    tails.pop(code, None)
            if out:
                yield out[0] if len(out) == 1 else _concat(out)
            if not pending:
                return  # every wanted window is out; stop reading

    def _select(self, buf: FloatArray, buf_start: int, want: range) -> WindowBatch | None:
        """The windows of `buf` (whose first row is series position `buf_start`) wanted."""
        past, length, step = self._window.past_steps, self._window.length, want.step
        # window k of buf starts at row k, so its origin is buf_start + k + past
        lo = max(want.start - past - buf_start, 0)
        hi = min(want.stop - past - buf_start, len(buf) - length + 1)
        lo += -(buf_start + lo + past - want.start) % step  # onto the stride grid
        if lo >= hi:
            return None
        win = sliding_window_view(buf[lo : hi + length - 1], length, axis=0)[::step]
        win = win.transpose(0, 2, 1)  # [n, cols, length] -> [n, length, cols]
        x = win[:, :past][:, :, self._inputs]  # [n, past, inputs]
        y = win[:, past:][:, :, self._targets]  # [n, future, targets]
        history = win[:, :past][:, :, self._targets]  # [n, past, targets]
        return WindowBatch(
            x=np.ascontiguousarray(x, dtype=np.float32),
            y=np.ascontiguousarray(y, dtype=np.float32),
            history=np.ascontiguousarray(history, dtype=np.float32),
        )


def _concat(batches: list[WindowBatch]) -> WindowBatch:
    return WindowBatch(
        x=np.concatenate([b.x for b in batches]),
        y=np.concatenate([b.y for b in batches]),
        history=np.concatenate([b.history for b in batches]),
    )
