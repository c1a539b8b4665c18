"""Use case: train a forecaster from a chunked table, evaluate it, and keep the artifacts."""

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, cast

from thunder.app.export import OnnxExporter
from thunder.app.settings import Settings
from thunder.app.windows import Tally, checked_rows, scaled_windows, tally
from thunder.domain.data.sharding import batch_sizes, batches_per_rank, shard_bounds, shard_origins
from thunder.domain.data.splitting import plan_split, rows_of, split_origins, windows_in
from thunder.domain.data.table import StreamedTable
from thunder.domain.errors import ClusterError, NotEnoughData, PeerStopped, ThunderError
from thunder.domain.ports import (
    ArtifactStore,
    ChunkSource,
    Cluster,
    ExperimentTracker,
    Forecaster,
    Preprocessor,
    Progress,
    ReportWriter,
    RowCache,
    Table,
    WindowStream,
)
from thunder.domain.scoring.evaluation import Evaluation, ForecastReport, spread
from thunder.domain.scoring.metrics import infer_season, naive_scale
from thunder.domain.values import Columns, ModelCard, SplitPlan

log = logging.getLogger("thunder")

PreprocessorFactory = Callable[[Sequence[str]], Preprocessor]
ForecasterFactory = Callable[[], Forecaster]
PreprocessorLoader = Callable[[bytes, str], Preprocessor]
CACHE_LAYOUT = "rows-v3"  # v3: values beyond float32 are refused, no longer cached as inf
VERSIONED = ("thunder", "torch", "pytorch-lightning", "scikit-learn", "numpy", "pandas")
SAMPLE_WINDOWS = 4  # test windows drawn whole in the report, spread over the split


@dataclass(frozen=True)
class Prepared:
    columns: Columns
    table: Table
    plan: SplitPlan
    preprocessor: Preprocessor
    fingerprint: str
    cached: bool
    check_s: float
    scale_s: float
    naive_mae: dict[str, float]  # in-sample, per target: MASE's denominator
    season: int | None


@dataclass(frozen=True)
class FromRankZero:
    """What rank 0 of a distributed run hands the others once it has prepared the data."""

    preprocessor: bytes
    naive_mae: dict[str, float]
    fingerprint: str  # of the data file it read: every rank must read the same


class TrainFromChunks:
    def __init__(
        self,
        settings: Settings,
        preprocessor_factory: PreprocessorFactory,
        preprocessor_loader: PreprocessorLoader,
        forecaster_factory: ForecasterFactory,
        store: ArtifactStore,
        progress: Progress,
        cache: RowCache | None,
        to_onnx: OnnxExporter | None = None,
        tracker: ExperimentTracker | None = None,
        reports: ReportWriter | None = None,
        report_dir: str | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        self._settings = settings
        self._new_preprocessor = preprocessor_factory
        # a distributed run: rank 0 fits the scaler, the others load its bytes with this
        self._load_preprocessor = preprocessor_loader
        self._new_forecaster = forecaster_factory
        self._store = store
        self._progress = progress
        self._cache = cache
        self._to_onnx = to_onnx  # when set, each version gets an ONNX export of its model too
        self._tracker = tracker  # when set, the run's MLflow record gets the report and files
        self._reports = reports  # when set, the test split's report is written to report_dir
        self._report_dir = report_dir
        self._cluster = cluster

    def __call__(
        self, source: ChunkSource, *, resume: bool = False, validate_only: bool = False
    ) -> dict[str, Any]:
        """Train, evaluate and commit. `resume` continues an interrupted run of the same data
        and config from its last epoch checkpoint. `validate_only` (a tuning trial) stops after
        the fit: {"train": the FitResult}, no test pass, nothing published."""
        prep = self._prepare(source)
        cols, plan, window = prep.columns, prep.plan, self._settings.window
        stride = self._settings.preprocessing_config.split_config.eval_stride
        cut = scaled_windows(prep.table, prep.preprocessor, cols, window)
        rank, world = self._rank()

        def windows(part: str, step: int) -> WindowStream:
            """This rank's shard of the part's windows (all of them in one process)."""
            return cut(shard_origins(split_origins(plan, part, window, step), rank, world))

        try:
            mine, sizes = self._train_shard(plan, rank, world)
        except NotEnoughData as e:  # every rank finds it; rank 0 alone says it
            if rank:
                raise PeerStopped(e.message) from None
            raise
        forecaster = self._new_forecaster()
        fit = forecaster.fit(
            windows("train", 1),
            windows("val", stride),
            train_windows=mine,
            run_id=self._run_id(prep),
            resume=resume,
            batch_sizes=sizes,
        )
        windows_seen = sum(cast(int, n) for n in self._gather(fit.windows_seen))
        if validate_only:  # the search scores the val loss; the test split stays unseen
            return {"train": asdict(fit)}
        season = prep.season if prep.season and prep.season <= window.past_steps else None
        test_windows = windows_in(plan, "test", window, stride)
        # each rank scores its shard of the test windows; rank 0 adds the sums up and publishes
        mine_scored = tally(
            windows("test", stride),
            forecaster,
            prep.preprocessor,
            cols.targets,
            season=season,
            sample_at=spread(SAMPLE_WINDOWS, test_windows),
            offset=shard_bounds(test_windows, rank, world)[0],
        )
        tallies = [cast(Tally, t) for t in self._gather(mine_scored)]
        if rank != 0:  # the others take rank 0's report once it has published
            return cast(dict[str, Any], self._broadcast(None))
        scored = Tally.merged(tallies).scored(prep.naive_mae)
        metrics = scored.evaluation.as_dict()
        report: dict[str, Any] = {
            "data": {
                "file": source.name,
                "sha256": prep.fingerprint,
                "rows": plan.rows,
                "series": len(plan.series),
                "train_rows": plan.rows_in("train"),
                "val_rows": plan.rows_in("val"),
                "test_rows": plan.rows_in("test"),
                "cache": "hit" if prep.cached else ("built" if self._cache else "off"),
                "check_s": round(prep.check_s, 3),
                "scale_s": round(prep.scale_s, 3),
            },
            "train": {
                "epochs": fit.epochs,
                "steps": fit.steps,
                "windows": windows_in(plan, "train", window),
                "windows_seen": windows_seen,
                "wall_s": round(fit.wall_s, 3),
                "windows_per_s": round(windows_seen / fit.wall_s, 1) if fit.wall_s else 0.0,
                "processes": world,
                "best_val_loss": fit.best_val_loss,
                "learning_rate": fit.learning_rate or self._settings.network.learning_rate,
                "lr_found": fit.lr_found,
                "log_dir": fit.log_dir,
            },
            "test": {
                "windows": test_windows,
                "loss_scaled": scored.loss_scaled,
                **metrics["model"],
            },
            **({"coverage": metrics["coverage"]} if "coverage" in metrics else {}),
            "baselines": metrics["baselines"],
            "season_length": season,
            "by_step": metrics["by_step"],
            "mase_scale": prep.naive_mae,  # evaluate scales MASE by the train rows' too
        }
        card = ModelCard(
            columns=cols,
            window=window,
            config=self._settings.shareable(),
            metrics={
                k: report[k] for k in ("test", "baselines", "coverage", "mase_scale") if k in report
            },
            data=report["data"],
            versions=_versions(),
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        s = self._settings
        model = forecaster.to_bytes()
        files = {
            s.model_path: model,
            s.preprocessor_path: prep.preprocessor.to_bytes(),
            s.card_path(): json.dumps(card.as_dict(), indent=2).encode(),
        }
        onnx = self._export_onnx(model)
        if onnx is not None:
            files[s.onnx_path()] = onnx
        version = self._store.publish(files)
        report["artifacts"] = {
            "version": version,
            **({"onnx": s.onnx_path()} if onnx is not None else {}),
            "model": s.model_path,
            "preprocessor": s.preprocessor_path,
            "card": s.card_path(),
        }
        self._track(fit.tracking_run, report, files)
        written = self._write_report(source.name, version, scored.evaluation)
        if written is not None:
            report["report"] = written
        self._broadcast(report)
        return report

    def _rank(self) -> tuple[int, int]:
        c = self._cluster
        return (0, 1) if c is None else (c.rank, c.world_size)

    def _broadcast(self, value: object) -> object:
        return value if self._cluster is None else self._cluster.broadcast(value)

    def _gather(self, value: object) -> list[object]:
        return [value] if self._cluster is None else self._cluster.gather(value)

    def _train_shard(
        self, plan: SplitPlan, rank: int, world: int
    ) -> tuple[int, Sequence[int] | None]:
        """This rank's train windows, and in a distributed run the sizes of its batches: the
        same count on every rank, so none waits for a gradient the others never send."""
        window = self._settings.window
        split = self._settings.preprocessing_config.split_config
        total = windows_in(plan, "train", window)
        if world == 1:
            return total, None
        lo, hi = shard_bounds(total, rank, world)
        per_rank = batches_per_rank(total, world, split.batch_size)
        val = windows_in(plan, "val", window, split.eval_stride)
        if 0 < val < world:  # a rank without val windows would never join the val_loss reduction
            raise NotEnoughData(
                f"the val split has {val} window(s), fewer than the {world} processes; "
                f"train with fewer processes or a larger val_ratio",
                field="preprocessing_config.split_config.val_ratio",
            )
        return hi - lo, batch_sizes(hi - lo, per_rank, split.batch_size)

    def _write_report(
        self, data: str, version: str, evaluation: Evaluation
    ) -> dict[str, Any] | None:
        """The test split's report; a failure to write it never costs the published model."""
        if self._reports is None or self._report_dir is None:
            return None
        report = ForecastReport(
            f"Test split of {Path(data).name}", data, version, self._settings.window, evaluation
        )
        try:
            files = self._reports.write(report, self._report_dir)
        except Exception as e:  # a plotting or disk problem must not fail a finished run
            log.warning("the test report was not written: %s", e)
            return None
        return {"dir": self._report_dir, "files": files, "plots": self._reports.plots}

    def _track(self, run: str | None, report: dict[str, Any], files: dict[str, bytes]) -> None:
        """The config, the report's numbers and the published files, into the MLflow run the
        epochs were logged to. The model is published by now: a failure here costs a warning."""
        if self._tracker is None or run is None:
            return
        config = self._settings.shareable()
        numbers = {
            k: float(v)
            for k, v in _flat(report).items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        try:
            self._tracker.record(
                run,
                params={
                    k: v if isinstance(v, str) else json.dumps(v) for k, v in _flat(config).items()
                },
                metrics=numbers,
                files=files,
                tags={
                    "thunder.version": report["artifacts"]["version"],
                    "thunder.data": report["data"]["file"],
                },
            )
        except Exception as e:  # a tracking server down must not fail a finished run
            log.warning("the MLflow run was not completed: %s", e)
            return
        report["tracking"] = {"run": run, "uri": self._tracker.uri}

    def _export_onnx(self, model: bytes) -> bytes | None:
        """The ONNX export for fast serving; a failure to export never costs the trained model,
        which is published without it (and `thunder export` can try again)."""
        if self._to_onnx is None:
            return None
        try:
            return self._to_onnx(model, self._settings.model_path, False)
        except Exception as e:  # an exporter bug must not lose a finished training run
            log.warning("the ONNX export failed, publishing without it: %s", e)
            return None

    def _run_id(self, prep: Prepared) -> str:
        """The data's bytes and the whole config: a checkpoint only resumes its own run."""
        what = json.dumps([prep.fingerprint, self._settings.shareable()], sort_keys=True)
        return hashlib.sha256(what.encode()).hexdigest()[:16]

    def _prepare(self, source: ChunkSource) -> Prepared:
        """Check and count every row once (into the cache), then fit the scaler on train rows.
        In a distributed run rank 0 does this first (the others wait, then open its row cache
        on a shared filesystem, or build their own) and sends the fitted scaler to the rest, so
        every rank scales with the very same numbers."""
        c = self._cluster
        if c is None or c.world_size == 1:
            return self._prepare_here(source)
        if c.rank == 0:
            try:
                prep = self._prepare_here(source)
            except ThunderError as e:
                c.broadcast(("error", e.message))
                raise
            shared = FromRankZero(prep.preprocessor.to_bytes(), prep.naive_mae, prep.fingerprint)
            c.broadcast(("ok", shared))
            return prep
        status, payload = cast(tuple[str, Any], c.broadcast(None))
        if status == "error":
            raise PeerStopped(f"rank 0 stopped: {payload}")
        return self._prepare_here(source, fitted=payload)

    def _prepare_here(self, source: ChunkSource, fitted: "FromRankZero | None" = None) -> Prepared:
        start = time.perf_counter()
        cfg = self._settings.preprocessing_config
        cols = self._settings.columns(list(source.header()))
        rows = checked_rows(source, cols, cfg.id_column, cfg.missing)

        fingerprint = source.fingerprint()
        if fitted is not None and fitted.fingerprint != fingerprint:
            rank = self._cluster.rank if self._cluster else 0
            raise ClusterError(
                f"rank {rank}: {source.name} is not the file rank 0 read (sha256 "
                f"{fingerprint[:12]}... against {fitted.fingerprint[:12]}...); every node needs "
                f"the same data"
            )
        table: Table | None = None
        cached = False
        if self._cache is None:
            table = StreamedTable(rows, self._progress)
        else:
            key = _cache_key(fingerprint, cols, cfg.id_column, cfg.missing)
            table = self._cache.open(key)
            cached = table is not None
            if table is None:
                table = self._cache.build(key, self._progress.track(rows(), "check"), source.name)
        check_s = time.perf_counter() - start

        split = cfg.split_config
        try:
            plan = plan_split(
                table.counts, split.train_ratio, split.val_ratio, self._settings.window, table.names
            )
        except NotEnoughData as e:  # the domain knows counts, not files: name the file here
            raise NotEnoughData(f"{source.name}: {e.message}", field=e.field) from None
        start = time.perf_counter()
        if fitted is not None:
            pre = self._load_preprocessor(fitted.preprocessor, "rank 0's preprocessor")
            naive_mae = fitted.naive_mae
        else:
            pre = self._new_preprocessor(cols.scaled)
            for train_rows in rows_of(
                self._progress.track(table.chunks(), "scale", plan.rows), plan, "train"
            ):
                if len(train_rows):
                    pre.partial_fit(train_rows)
            target_idx = [cols.scaled.index(t) for t in cols.targets]
            naive_mae = naive_scale(table.chunks(), plan, target_idx, cols.targets)
        season = cfg.season_length or infer_season(table.step_seconds)
        return Prepared(
            cols,
            table,
            plan,
            pre,
            fingerprint,
            cached,
            check_s,
            time.perf_counter() - start,
            naive_mae,
            season,
        )


def _cache_key(fingerprint: str, cols: Columns, id_column: str | None, missing: str) -> str:
    """Names what was cached: the file's bytes and every setting that changes the checked rows."""
    what = [CACHE_LAYOUT, fingerprint, cols.scaled, cols.time, id_column, missing]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:32]


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: nested report or config keys as MLflow names."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out
