"""The processes of a training run as the use case sees them: one, or the ranks of a distributed
run. Rank 0 prepares the data first and hands the others its scaler; each rank trains and scores
its shard; rank 0 merges the scores and publishes."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from thunder.app.prepare import Fitted, Prepared
from thunder.domain.data.sharding import batch_sizes, batches_per_rank, shard_bounds
from thunder.domain.data.splitting import windows_in
from thunder.domain.errors import NotEnoughData, PeerStopped, ThunderError
from thunder.domain.ports import Cluster, PreprocessorLoader
from thunder.domain.values import SplitPlan, WindowSpec

Prepare = Callable[[Fitted | None, int], Prepared]  # (rank 0's scaler or None, rank) -> data


@dataclass(frozen=True)
class FromRankZero:
    """What rank 0 of a distributed run hands the others once it has prepared the data."""

    preprocessor: bytes
    naive_mae: dict[str, float]
    fingerprint: str  # of the data file it read: every rank must read the same


class Ranks:
    """Collectives over the run's Cluster; the identity in a single process (no cluster)."""

    def __init__(self, cluster: Cluster | None, preprocessor_loader: PreprocessorLoader) -> None:
        self._cluster = cluster
        self._load_preprocessor = preprocessor_loader
        self.rank, self.world = (0, 1) if cluster is None else (cluster.rank, cluster.world_size)

    def broadcast(self, value: object) -> object:
        return value if self._cluster is None else self._cluster.broadcast(value)

    def gather(self, value: object) -> list[object]:
        return [value] if self._cluster is None else self._cluster.gather(value)

    def prepare(self, prepare: Prepare) -> Prepared:
        """Rank 0 checks the rows and fits the scaler first (the others wait, then open its
        row cache on a shared filesystem, or build their own) and sends the fitted scaler to
        the rest, so every rank scales with the very same numbers."""
        if self.world == 1:
            return prepare(None, 0)
        if self.rank == 0:
            try:
                prep = prepare(None, 0)
            except ThunderError as e:
                self.broadcast(("error", e.message))
                raise
            shared = FromRankZero(prep.preprocessor.to_bytes(), prep.naive_mae, prep.fingerprint)
            self.broadcast(("ok", shared))
            return prep
        status, payload = cast(tuple[str, Any], self.broadcast(None))
        if status == "error":
            raise PeerStopped(f"rank 0 stopped: {payload}")
        scaler = self._load_preprocessor(payload.preprocessor, "rank 0's preprocessor")
        return prepare(Fitted(scaler, payload.naive_mae, payload.fingerprint), self.rank)

    def train_shard(
        self, plan: SplitPlan, window: WindowSpec, batch_size: int, eval_stride: int
    ) -> tuple[int, Sequence[int] | None]:
        """This rank's train windows, and in a distributed run the sizes of its batches: the
        same count on every rank, so none waits for a gradient the others never send. Every
        rank finds a NotEnoughData; rank 0 alone says it."""
        try:
            return self._train_shard(plan, window, batch_size, eval_stride)
        except NotEnoughData as e:
            if self.rank:
                raise PeerStopped(e.message) from None
            raise

    def _train_shard(
        self, plan: SplitPlan, window: WindowSpec, batch_size: int, eval_stride: int
    ) -> tuple[int, Sequence[int] | None]:
        total = windows_in(plan, "train", window)
        if self.world == 1:
            return total, None
        lo, hi = shard_bounds(total, self.rank, self.world)
        per_rank = batches_per_rank(total, self.world, batch_size)
        val = windows_in(plan, "val", window, eval_stride)
        if 0 < val < self.world:  # a rank without val windows would never join its reduction
            raise NotEnoughData(
                f"the val split has {val} window(s), fewer than the {self.world} processes; "
                f"train with fewer processes or a larger val_ratio",
                field="preprocessing_config.split_config.val_ratio",
            )
        return hi - lo, batch_sizes(hi - lo, per_rank, batch_size)
