"""Shards of a split's windows: disjoint, complete, balanced; batch plans equal across ranks."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thunder.domain.data.sharding import batch_sizes, batches_per_rank, shard_bounds, shard_origins
from thunder.domain.errors import NotEnoughData


def flatten(wanted: dict[int, range]) -> list[tuple[int, int]]:
    return [(code, origin) for code, origins in wanted.items() for origin in origins]


series_origins = st.dictionaries(
    st.integers(0, 50),
    st.builds(
        lambda start, n, step: range(start, start + n * step, step),
        st.integers(0, 100),
        st.integers(0, 60),
        st.integers(1, 4),
    ),
    max_size=6,
)


@given(series_origins, st.integers(1, 7))
def test_the_ranks_shards_are_disjoint_and_cover_every_window(
    wanted: dict[int, range], world: int
) -> None:
    shards = [shard_origins(wanted, rank, world) for rank in range(world)]
    seen = [w for shard in shards for w in flatten(shard)]
    assert seen == flatten(wanted)  # every window once, in the single-process order
    sizes = [len(flatten(shard)) for shard in shards]
    assert max(sizes) - min(sizes) <= 1


def test_a_shard_keeps_the_stride_and_may_span_series() -> None:
    wanted = {3: range(10, 20, 2), 7: range(0, 4)}  # 5 + 4 windows
    assert shard_origins(wanted, 0, 2) == {3: range(10, 20, 2)}
    assert shard_origins(wanted, 1, 2) == {7: range(0, 4)}
    assert shard_origins(wanted, 1, 3) == {3: range(16, 20, 2), 7: range(0, 1)}


@given(st.integers(1, 5000), st.integers(1, 8), st.integers(1, 64))
def test_every_rank_runs_the_same_number_of_batches(total: int, world: int, batch: int) -> None:
    try:
        per_rank = batches_per_rank(total, world, batch)
    except NotEnoughData:
        assert total // world < -(-(total // world + (total % world > 0)) // batch)
        return
    for rank in range(world):
        lo, hi = shard_bounds(total, rank, world)
        sizes = batch_sizes(hi - lo, per_rank, batch)
        assert len(sizes) == per_rank
        assert sum(sizes) == hi - lo
        assert all(1 <= s <= batch for s in sizes)


def test_one_process_keeps_full_batches_and_a_short_last_one() -> None:
    assert batch_sizes(100, batches_per_rank(100, 1, 32), 32) == [32, 32, 32, 4]


def test_the_smaller_shard_shortens_its_last_batch_instead_of_running_one_fewer() -> None:
    # 129 windows on 2 ranks: 65 and 64, both in 3 batches of <= 32
    per_rank = batches_per_rank(129, 2, 32)
    assert per_rank == 3
    assert batch_sizes(65, per_rank, 32) == [32, 32, 1]
    assert batch_sizes(64, per_rank, 32) == [32, 31, 1]


def test_too_few_windows_for_the_ranks_is_named() -> None:
    with pytest.raises(NotEnoughData, match="3 windows, too few for 4 processes"):
        batches_per_rank(3, 4, 32)
