"""Before training: check every row once (into the row cache), plan the split, fit the scaler
and MASE's naive scale on the train rows. One pass parses the file; the others read the cache."""

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from thunder.app import paths
from thunder.app.settings import Settings
from thunder.app.windows import checked_rows
from thunder.domain.data.splitting import plan_split, rows_of
from thunder.domain.data.table import StreamedTable
from thunder.domain.errors import ClusterError, ConfigError, NotEnoughData
from thunder.domain.ports import (
    ChunkSource,
    Preprocessor,
    Progress,
    RowCacheFactory,
    Table,
)
from thunder.domain.scoring.metrics import naive_scale, season_length
from thunder.domain.values import Chunk, Columns, SplitPlan

PreprocessorFactory = Callable[[Sequence[str]], Preprocessor]
PreprocessorLoader = Callable[[bytes, str], Preprocessor]
Rows = Callable[[], Iterator[Chunk]]  # a fresh pass over the checked rows on each call
CACHE_LAYOUT = "rows-v3"  # v3: values beyond float32 are refused, no longer cached as inf


@dataclass(frozen=True)
class Fitted:
    """The scaler and the MASE scale; in a distributed run, rank 0's, with the checksum of the
    file it read (every rank must read the same)."""

    preprocessor: Preprocessor
    naive_mae: dict[str, float]
    fingerprint: str


@dataclass(frozen=True)
class Prepared:
    columns: Columns
    table: Table
    plan: SplitPlan
    preprocessor: Preprocessor
    fingerprint: str
    cache: str  # "hit", "built" or "off"
    check_s: float
    scale_s: float
    naive_mae: dict[str, float]  # in-sample, per target: MASE's denominator
    season: int | None  # the seasonal-naive baseline's, when it fits in a window


class PrepareData:
    def __init__(
        self,
        settings: Settings,
        preprocessor_factory: PreprocessorFactory,
        cache_factory: RowCacheFactory,
        preprocessor_loader: PreprocessorLoader,
    ) -> None:
        self._settings = settings
        self._new_preprocessor = preprocessor_factory
        self._new_cache = cache_factory  # used when preprocessing_config.cache is on
        self._load_preprocessor = preprocessor_loader

    def __call__(
        self,
        source: ChunkSource,
        progress: Progress,
        fitted: Fitted | None = None,
        rank: int = 0,
        kept: bytes | None = None,
    ) -> Prepared:
        """`fitted`: rank 0's scaler, used instead of fitting one, so every rank scales alike.
        `kept`: a published scaler (--keep-scaler), used instead of fitting one on these rows."""
        start = time.perf_counter()
        cfg = self._settings.preprocessing_config
        cols = self._settings.columns(list(source.header()))
        rows = checked_rows(source, cols, cfg.id_column, cfg.missing)  # the header first
        fingerprint = source.fingerprint()
        if fitted is not None and fitted.fingerprint != fingerprint:
            raise ClusterError(
                f"rank {rank}: {source.name} is not the file rank 0 read (sha256 "
                f"{fingerprint[:12]}... against {fitted.fingerprint[:12]}...); every node "
                f"needs the same data"
            )
        table, cache = self._table(source, rows, cols, fingerprint, progress)
        check_s = time.perf_counter() - start
        plan = self._plan(source, table)
        start = time.perf_counter()
        fitted = fitted or self._fit(table, plan, cols, fingerprint, progress, kept)
        window = self._settings.window
        season = season_length(cfg.season_length, table.step_seconds, window.past_steps)
        return Prepared(
            cols,
            table,
            plan,
            fitted.preprocessor,
            fingerprint,
            cache,
            check_s,
            time.perf_counter() - start,
            fitted.naive_mae,
            season,
        )

    def _table(
        self, source: ChunkSource, rows: Rows, cols: Columns, fingerprint: str, progress: Progress
    ) -> tuple[Table, str]:
        """The checked rows: from the cache when it holds this file and these settings."""
        cfg = self._settings.preprocessing_config
        if not cfg.cache:
            return StreamedTable(rows, progress), "off"
        cache = self._new_cache(paths.cache_dir(self._settings), source.chunk_rows)
        key = _cache_key(fingerprint, cols, cfg.id_column, cfg.missing)
        table = cache.open(key)
        if table is not None:
            return table, "hit"
        return cache.build(key, progress.track(rows(), "check"), source.name), "built"

    def _plan(self, source: ChunkSource, table: Table) -> SplitPlan:
        split = self._settings.preprocessing_config.split_config
        try:
            return plan_split(
                table.counts, split.train_ratio, split.val_ratio, self._settings.window, table.names
            )
        except NotEnoughData as e:  # the domain knows counts, not files: name the file here
            raise NotEnoughData(f"{source.name}: {e.message}", field=e.field) from None

    def _fit(
        self,
        table: Table,
        plan: SplitPlan,
        cols: Columns,
        fingerprint: str,
        progress: Progress,
        kept: bytes | None,
    ) -> Fitted:
        """The scaler (or the kept one) and MASE's naive scale, from the train rows only."""
        if kept is not None:
            pre = self._kept(kept, cols)
        else:
            pre = self._new_preprocessor(cols.scaled)
            for train_rows in rows_of(
                progress.track(table.chunks(), "scale", plan.rows), plan, "train"
            ):
                if len(train_rows):
                    pre.partial_fit(train_rows)
        target_idx = [cols.scaled.index(t) for t in cols.targets]
        naive = naive_scale(table.chunks(), plan, target_idx, cols.targets)
        return Fitted(pre, naive, fingerprint)

    def _kept(self, data: bytes, cols: Columns) -> Preprocessor:
        pre = self._load_preprocessor(data, "--init-from's preprocessor")
        if tuple(pre.columns) != cols.scaled:
            raise ConfigError(
                f"--keep-scaler: the kept scaler scales {list(pre.columns)}, this run "
                f"{list(cols.scaled)}; drop --keep-scaler to fit one on these rows",
                field="keep_scaler",
            )
        return pre


def _cache_key(fingerprint: str, cols: Columns, id_column: str | None, missing: str) -> str:
    """Names what was cached: the file's bytes and every setting that changes the checked rows."""
    what = [CACHE_LAYOUT, fingerprint, cols.scaled, cols.time, id_column, missing]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:32]
