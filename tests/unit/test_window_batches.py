from collections.abc import Iterator

import numpy as np
import pytest

from thunder.adapters.lightning.data import WindowBatches
from thunder.domain.values import WindowBatch


class CountingStream:
    """A restartable stream of window batches that counts how many windows were pulled."""

    def __init__(self, batches: int, per_batch: int) -> None:
        self._batches, self._per = batches, per_batch
        self.pulled = 0

    def __iter__(self) -> Iterator[WindowBatch]:
        for b in range(self._batches):
            self.pulled += self._per
            ids = np.arange(b * self._per, (b + 1) * self._per, dtype=np.float32)
            x = np.repeat(ids[:, None, None], 4, axis=1)  # [n, past=4, 1]
            yield WindowBatch(x=x, y=x[:, :2], history=x)


def test_the_shuffle_buffer_bounds_what_is_held_from_the_stream() -> None:
    stream = CountingStream(batches=100, per_batch=50)
    data = WindowBatches(stream, batch_size=16, shuffle=True, buffer_windows=200)
    first = next(iter(data))
    assert len(first[0]) == 16
    assert stream.pulled <= 200 + 50  # the buffer plus the one batch that filled it


def test_every_window_comes_out_once_per_epoch_in_a_seeded_order() -> None:
    stream = CountingStream(batches=30, per_batch=37)
    data = WindowBatches(stream, batch_size=16, shuffle=True, seed=3, buffer_windows=100)
    epoch1 = np.concatenate([x[:, 0, 0].numpy() for x, _ in data])
    epoch2 = np.concatenate([x[:, 0, 0].numpy() for x, _ in data])
    assert sorted(epoch1.tolist()) == list(range(30 * 37)) == sorted(epoch2.tolist())
    assert not np.array_equal(epoch1, epoch2)  # reshuffled each epoch
    again = WindowBatches(
        CountingStream(30, 37), batch_size=16, shuffle=True, seed=3, buffer_windows=100
    )
    np.testing.assert_array_equal(np.concatenate([x[:, 0, 0].numpy() for x, _ in again]), epoch1)


def test_a_batch_plan_is_followed_exactly_and_every_window_still_comes_out_once() -> None:
    sizes = [16] * 68 + [15, 1]  # 1104 windows of one rank's shard, in 70 batches
    data = WindowBatches(
        CountingStream(24, 46), batch_size=16, shuffle=True, buffer_windows=100, sizes=sizes
    )
    for _ in range(2):
        batches = [x[:, 0, 0].numpy() for x, _ in data]
        assert [len(b) for b in batches] == sizes
        assert sorted(np.concatenate(batches).tolist()) == list(range(24 * 46))


def test_a_stream_that_does_not_match_its_batch_plan_is_a_bug_not_a_short_epoch() -> None:
    data = WindowBatches(CountingStream(2, 10), batch_size=16, sizes=[16, 5])
    with pytest.raises(RuntimeError, match="held 20 windows where the batch plan wanted 21"):
        list(data)
