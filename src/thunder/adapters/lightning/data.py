"""IterableDataset that turns a restartable stream of window batches into training batches.

Shuffling goes through a bounded buffer (`buffer_windows`), seeded per epoch, so memory stays
bounded however long the stream is, and every window is yielded exactly once per epoch.
"""

from collections import deque
from collections.abc import Iterator, Sequence

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
        sizes: Sequence[int] | None = None,
    ) -> None:
        """`sizes`: the exact batch sizes of an epoch (see domain.sharding.batch_sizes), so each
        process of a distributed run yields as many batches as every other; None: batches of
        `batch_size` and whatever is left at the end."""
        self._stream = stream
        self._batch = batch_size
        self._shuffle = shuffle
        self._seed = seed
        self._buffer = max(buffer_windows, batch_size)
        self._sizes = None if sizes is None else tuple(sizes)
        self._epoch = 0

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        rng = np.random.default_rng((self._seed, self._epoch))
        self._epoch += 1
        plan = None if self._sizes is None else deque(self._sizes)
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        held = 0
        for wb in self._stream:
            xs.append(wb.x)
            ys.append(wb.y)
            held += len(wb)
            if held >= self._buffer:
                x, y = np.concatenate(xs), np.concatenate(ys)
                sizes = self._fitting(len(x), plan)
                keep = sum(sizes)  # the remainder waits for the next buffer
                yield from self._batches(x[:keep], y[:keep], rng, sizes)
                xs, ys, held = [x[keep:]], [y[keep:]], len(x) - keep
        if plan is not None and sum(plan) != held:
            raise RuntimeError(
                f"the stream held {held} windows where the batch plan wanted {sum(plan)}"
            )
        if held:
            sizes = self._fitting(held, plan)
            if plan is None and held % self._batch:
                sizes.append(held % self._batch)
            yield from self._batches(np.concatenate(xs), np.concatenate(ys), rng, sizes)

    def _fitting(self, windows: int, plan: deque[int] | None) -> list[int]:
        """The next batch sizes that `windows` windows fill completely."""
        if plan is None:
            return [self._batch] * (windows // self._batch)
        sizes: list[int] = []
        while plan and plan[0] <= windows:
            windows -= plan[0]
            sizes.append(plan.popleft())
        return sizes

    def _batches(
        self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, sizes: Sequence[int]
    ) -> Iterator[tuple[Tensor, Tensor]]:
        if self._shuffle:
            order = rng.permutation(len(x))
            x, y = x[order], y[order]
        start = 0
        for size in sizes:
            end = start + size
            yield torch.from_numpy(x[start:end]), torch.from_numpy(y[start:end])
            start = end
