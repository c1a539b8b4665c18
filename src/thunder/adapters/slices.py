"""Run a model over many windows in slices: bounded memory, and every core on a large batch.

A serving worker runs its model on one thread (`serve --workers N` gives each worker cores / N),
which suits single windows. A large batch is cut into one slice per idle core and the slices run
at once, from a small thread pool: torch's TorchScript interpreter and onnxruntime both release
the GIL. Data parallelism beats intra-op threads here: a 1000-window batch of the demo model took
~125 ms with two intra-op threads and ~87 ms as two slices of 500 (onnxruntime, 2 cores).
"""

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from thunder.domain.values import FloatArray

MAX_SLICE = 1024  # windows per run: bounds the mLSTM's [B, heads, T, T] gate matrices
LARGE_BATCH = 128  # from here a batch is worth the hand-over to other threads


def run_sliced(x: FloatArray, run: Callable[[FloatArray], FloatArray], threads: int) -> FloatArray:
    """`run` over `x` [n, ...] in slices, as many at once as the cores that `threads` (the
    threads one run uses) leave free; the outputs concatenated in order."""
    parallel = max(1, (os.cpu_count() or 1) // max(threads, 1))
    step = MAX_SLICE
    if len(x) >= LARGE_BATCH and parallel > 1:
        step = min(step, -(-len(x) // parallel))  # one slice per core
    slices = [x[i : i + step] for i in range(0, max(len(x), 1), step)]
    if len(slices) == 1:
        return run(slices[0])
    return np.concatenate(list(_pool(parallel).map(run, slices)))


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="thunder-slices")
