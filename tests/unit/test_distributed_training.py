"""A distributed run's use-case logic, with the ranks as threads over an in-memory cluster.

Each rank gets its own container (as each process would); the cluster's collectives meet in
memory. What DDP itself does with the batches is Lightning's; what each rank is given to train
on, who fits the scaler and who publishes is thunder's, and is checked here.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from dependency_injector import providers

from tests.conftest import flat
from tests.unit.conftest import climate_like
from tests.unit.fakes import (
    FakeChunkSource,
    FakeForecaster,
    FakePreprocessor,
    InMemoryArtifactStore,
    InMemoryReportWriter,
    InMemoryRowCache,
)
from thunder.app.container import Container
from thunder.app.settings import Settings
from thunder.domain.errors import ClusterError, MissingColumn, NotEnoughData, PeerStopped


class ThreadCluster:
    """`world` ranks in one process: each collective is a rendezvous of the rank threads."""

    def __init__(self, world: int) -> None:
        self.world_size = world
        self._meet = threading.Barrier(world, timeout=30)
        self._slots: list[object] = [None] * world
        self._lock = threading.Lock()
        self._dead = 0

    def rank_view(self, rank: int) -> "RankView":
        return RankView(self, rank)

    def exchange(self, rank: int, value: object) -> list[object]:
        try:
            self._slots[rank] = value
            self._meet.wait()
            out = list(self._slots)
            self._meet.wait()  # nobody writes the next round's slot before all have read this one
        except threading.BrokenBarrierError:  # as gloo when a peer's connection closes
            raise ClusterError(f"rank {rank}: another training process stopped") from None
        return out

    def stop(self) -> None:
        """A rank died: the collectives the others wait in now fail (once they all wait there,
        so none that was already released is caught by it)."""
        with self._lock:
            self._dead += 1
        deadline = time.monotonic() + 30
        while self._meet.n_waiting < self.world_size - self._dead and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._meet.n_waiting:
            self._meet.abort()


class RankView:
    def __init__(self, cluster: ThreadCluster, rank: int) -> None:
        self._cluster, self.rank = cluster, rank
        self.world_size = cluster.world_size

    def broadcast(self, value: object) -> object:
        return self._cluster.exchange(self.rank, value)[0]

    def gather(self, value: object) -> list[object]:
        return self._cluster.exchange(self.rank, value)


def rank_container(
    settings: Settings, store: InMemoryArtifactStore, cluster: object, fake: FakeForecaster
) -> Container:
    c = Container()
    c.settings.override(settings)
    c.artifact_store.override(store)
    c.row_cache.override(providers.Object(InMemoryRowCache()))  # no shared filesystem
    c.preprocessor_factory.override(FakePreprocessor)
    c.preprocessor_loader.override(FakePreprocessor.from_bytes)
    c.report_writer.override(providers.Singleton(InMemoryReportWriter))
    c.onnx_exporter.override(providers.Object(None))  # the fake model has no ONNX form
    c.forecaster.override(providers.Object(fake))
    c.cluster.override(providers.Object(cluster))
    return c


def run_ranks(
    settings: Settings,
    world: int,
    source: Callable[[int], FakeChunkSource],
    levels: tuple[float, ...] = (),
) -> tuple[list[Any], list[FakeForecaster], InMemoryArtifactStore]:
    store = InMemoryArtifactStore()
    cluster = ThreadCluster(world)
    fakes = [FakeForecaster((0,), settings.window.future_steps, levels) for _ in range(world)]
    results: list[Any] = [None] * world

    def rank(r: int) -> None:
        container = rank_container(settings, store, cluster.rank_view(r), fakes[r])
        try:
            results[r] = container.train_from_chunks()(source(r)).as_dict()
        except Exception as e:  # handed to the test thread
            results[r] = e
            cluster.stop()

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, fakes, store


def windows_of(fake: FakeForecaster) -> list[tuple[float, ...]]:
    """Each window trained on, by its input values (the rows are distinct noise)."""
    return [tuple(w) for batch in fake.trained_on for w in batch[:, :, 0].round(5).tolist()]


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("multi_series", [False, True])
def test_the_ranks_train_on_every_window_once_and_report_the_one_process_figures(
    settings: Settings, world: int, multi_series: bool
) -> None:
    if multi_series:
        settings.preprocessing_config.id_column = "id"
        rows, series = 3 * 97, 3  # 97 rows a series: shards that end inside a series
        ids = [f"s{i % series}" for i in range(rows)]

        def source(rank: int) -> FakeChunkSource:
            times = [i // series for i in range(rows)]
            return FakeChunkSource(climate_like(rows), chunk_size=23, series=ids, times=times)
    else:

        def source(rank: int) -> FakeChunkSource:
            return FakeChunkSource(climate_like(211), chunk_size=23)

    levels = (0.1, 0.5, 0.9) if multi_series else ()  # and interval coverage to add up
    alone, (fake_alone,), store_alone = run_ranks(settings, 1, source, levels)
    results, fakes, store = run_ranks(settings, world, source, levels)
    assert not [r for r in results if isinstance(r, Exception)], results

    every = sorted(windows_of(fake_alone))
    per_rank = [windows_of(f) for f in fakes]
    assert sorted(w for rank in per_rank for w in rank) == every  # no window twice, none lost
    assert max(map(len, per_rank)) - min(map(len, per_rank)) <= 1
    plans = [f.batch_sizes for f in fakes]
    assert all(p is not None and len(p) == len(plans[0] or ()) for p in plans)  # equal steps

    assert store.commits == 1 == store_alone.commits  # rank 0 alone published
    for report in results:
        assert report == results[0]  # every rank returns rank 0's report
    assert results[0]["train"]["processes"] == world
    # the ranks' error sums added up: the one-process figures, to float64 rounding
    assert ("coverage" in results[0]) == multi_series
    for part in ("test", "baselines", "by_step", "coverage"):
        got, want = flat(results[0].get(part)), flat(alone[0].get(part))
        assert got.keys() == want.keys()
        assert list(got.values()) == pytest.approx(list(want.values()), rel=1e-9), part
    assert results[0]["train"]["windows_seen"] == alone[0]["train"]["windows_seen"]
    scaler = store.files[settings.preprocessor_path]
    assert scaler == store_alone.files[settings.preprocessor_path]


def test_every_rank_scales_with_rank_zeros_scaler(settings: Settings) -> None:
    made: list[FakePreprocessor] = []
    loaded: list[FakePreprocessor] = []
    store = InMemoryArtifactStore()
    cluster = ThreadCluster(2)
    errors: list[Exception] = []

    def rank(r: int) -> None:
        c = rank_container(settings, store, cluster.rank_view(r), FakeForecaster((0,), 3))
        c.preprocessor_factory.override(
            lambda cols: made.append(FakePreprocessor(cols)) or made[-1]
        )
        c.preprocessor_loader.override(
            lambda data, origin: loaded.append(FakePreprocessor.from_bytes(data)) or loaded[-1]
        )
        try:
            c.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=40))
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(made) == 1 and made[0].rows_fitted == 140  # fitted once, on the train rows
    assert len(loaded) == 1
    np.testing.assert_array_equal(loaded[0]._sum, made[0]._sum)


def test_a_data_error_is_reported_by_rank_zero_and_stops_the_others_quietly(
    settings: Settings,
) -> None:
    settings.preprocessing_config.target_variables = ["nope"]
    settings.preprocessing_config.use_target_as_feature = False
    settings.preprocessing_config.numerical_features = ["meantemp"]
    results, _, store = run_ranks(
        settings, 2, lambda rank: FakeChunkSource(climate_like(200), chunk_size=40)
    )
    assert isinstance(results[0], MissingColumn)
    assert isinstance(results[1], PeerStopped)
    assert "nope" in results[1].message
    assert store.commits == 0


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (25, "the train split has 7 windows, too few for 8 processes"),
        (60, "the val split has 7 window(s), fewer than the 8 processes"),
    ],
)
def test_a_split_too_small_for_the_ranks_is_named(
    settings: Settings, rows: int, message: str
) -> None:
    results, _, store = run_ranks(
        settings, 8, lambda rank: FakeChunkSource(climate_like(rows), chunk_size=40)
    )
    assert isinstance(results[0], NotEnoughData)
    assert all(isinstance(r, PeerStopped) for r in results[1:]), results
    assert message in str(results[0])
    assert store.commits == 0


def test_a_rank_reading_another_file_than_rank_zero_is_stopped(settings: Settings) -> None:
    results, _, store = run_ranks(
        settings, 2, lambda rank: FakeChunkSource(climate_like(200, seed=rank), chunk_size=40)
    )
    assert isinstance(results[1], ClusterError)
    assert "rank 1: mem.csv is not the file rank 0 read" in results[1].message
    assert isinstance(results[0], ClusterError)  # its next collective finds rank 1 gone
    assert store.commits == 0
