"""IterableDataset that turns a restartable stream of window batches into training batches.

Shuffling goes through a bounded buffer (`buffer_windows`), seeded per epoch, so memory stays
bounded however long the stream is, and every window is yielded exactly once per epoch.
"""

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import IterableDataset

from thunder.domain.ports import WindowStream


class WindowBatches(IterableDataset[tuple[Tensor, Tensor]]):
    def __init__(
        self,
        stream: WindowStream,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        buffer_windows: int = 4096,
    ) -> None:
        self._stream = stream
        self._batch = batch_size
        self._shuffle = shuffle
        self._seed = seed
        self._buffer = max(buffer_windows, batch_size)
        self._epoch = 0

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        rng = np.random.default_rng((self._seed, self._epoch))
        self._epoch += 1
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        held = 0
        for wb in self._stream:
            xs.append(wb.x)
            ys.append(wb.y)
            held += len(wb)
            if held >= self._buffer:
                x, y = np.concatenate(xs), np.concatenate(ys)
                keep = len(x) - len(x) % self._batch  # the remainder waits for the next buffer
                yield from self._batches(x[:keep], y[:keep], rng)
                xs, ys, held = [x[keep:]], [y[keep:]], len(x) - keep
        if held:
            yield from self._batches(np.concatenate(xs), np.concatenate(ys), rng)

    def _batches(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> Iterator[tuple[Tensor, Tensor]]:
        if self._shuffle:
            order = rng.permutation(len(x))
            x, y = x[order], y[order]
        for i in range(0, len(x), self._batch):
            yield torch.from_numpy(x[i : i + self._batch]), torch.from_numpy(y[i : i + self._batch])
