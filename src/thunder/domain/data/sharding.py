"""Split one split's windows between the processes of a distributed run, and plan its batches.

Each rank takes one contiguous run of the split's window origins (series after series, in the
plan's order), so the ranks' shards are disjoint, their union is every window, and their sizes
differ by at most one. A contiguous run lets a rank stop reading once its last window is out.

Data-parallel training steps all ranks together: a rank with one batch more than the others
would wait forever for the rest in its extra gradient all-reduce. So every rank runs the same
number of batches per epoch, `batches_per_rank`, and a smaller shard makes its last batch one
window smaller instead of running a batch fewer (or repeating a window).
"""

import math
from collections.abc import Mapping

from thunder.domain.errors import NotEnoughData


def shard_bounds(total: int, rank: int, world: int) -> tuple[int, int]:
    """[lo, hi) of `total` items for `rank` of `world`: the first total % world ranks get one more."""
    base, extra = divmod(total, world)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


def shard_origins(wanted: Mapping[int, range], rank: int, world: int) -> dict[int, range]:
    """This rank's part of `wanted` (series code -> origins), as ranges again."""
    if world == 1:
        return dict(wanted)
    lo, hi = shard_bounds(sum(len(r) for r in wanted.values()), rank, world)
    out: dict[int, range] = {}
    offset = 0  # index of this series' first origin among all of the split's origins
    for code, origins in wanted.items():
        part = origins[max(lo - offset, 0) : max(hi - offset, 0)]
        if len(part):
            out[code] = part
        offset += len(origins)
    return out


def batches_per_rank(total: int, world: int, batch_size: int) -> int:
    """Train batches each rank runs per epoch: the largest shard's batch count."""
    largest = shard_bounds(total, 0, world)[1]
    smallest = total // world
    batches = math.ceil(largest / batch_size)
    if smallest < batches:  # a rank could not fill every batch with at least one window
        raise NotEnoughData(
            f"the train split has {total} windows, too few for {world} processes "
            f"({batches} batches each); train with fewer processes",
            field="training_config.devices",
        )
    return batches


def batch_sizes(windows: int, batches: int, batch_size: int) -> list[int]:
    """Sizes of `batches` batches holding `windows` windows: full batches first, then the rest,
    each batch at least one window (so one process's batch count matches every other's)."""
    if not 0 < batches <= windows <= batches * batch_size:
        raise ValueError(f"{windows} windows do not fit {batches} batches of <= {batch_size}")
    sizes = []
    left = windows
    for i in range(batches):
        size = min(batch_size, left - (batches - 1 - i))  # leave one window for each batch after
        sizes.append(size)
        left -= size
    return sizes
