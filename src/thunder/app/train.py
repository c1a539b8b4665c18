"""Use case: train a forecaster from a chunked table, evaluate it, and keep the artifacts."""

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np

from thunder.app.export import OnnxExporter
from thunder.app.settings import TIME_COLUMN_GUESSES, Settings
from thunder.domain.calendar import with_calendar
from thunder.domain.checking import RowChecker
from thunder.domain.errors import MissingColumn, NotEnoughData
from thunder.domain.metrics import (
    CoverageAccumulator,
    ErrorAccumulator,
    infer_season,
    naive_scale,
    seasonal_naive,
)
from thunder.domain.ports import (
    ArtifactStore,
    ChunkSource,
    Forecaster,
    Preprocessor,
    Progress,
    RowCache,
    Table,
    WindowStream,
)
from thunder.domain.splitting import plan_split, rows_of, split_origins, windows_in
from thunder.domain.streams import Restartable
from thunder.domain.table import StreamedTable
from thunder.domain.values import Chunk, Columns, ModelCard, SplitPlan
from thunder.domain.windowing import WindowCutter

log = logging.getLogger("thunder")

PreprocessorFactory = Callable[[Sequence[str]], Preprocessor]
ForecasterFactory = Callable[[], Forecaster]
CACHE_LAYOUT = "rows-v3"  # v3: values beyond float32 are refused, no longer cached as inf
VERSIONED = ("thunder", "torch", "pytorch-lightning", "scikit-learn", "numpy", "pandas")


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


class TrainFromChunks:
    def __init__(
        self,
        settings: Settings,
        preprocessor_factory: PreprocessorFactory,
        forecaster_factory: ForecasterFactory,
        store: ArtifactStore,
        progress: Progress,
        cache: RowCache | None,
        to_onnx: OnnxExporter | None = None,
    ) -> None:
        self._settings = settings
        self._new_preprocessor = preprocessor_factory
        self._new_forecaster = forecaster_factory
        self._store = store
        self._progress = progress
        self._cache = cache
        self._to_onnx = to_onnx  # when set, each version gets an ONNX export of its model too

    def __call__(self, source: ChunkSource, *, resume: bool = False) -> dict[str, Any]:
        """Train, evaluate and commit. `resume` continues an interrupted run of the same data
        and config from its last epoch checkpoint."""
        prep = self._prepare(source)
        cols, plan, window = prep.columns, prep.plan, self._settings.window
        stride = self._settings.preprocessing_config.split_config.eval_stride
        scaled = Restartable(lambda: self._scaled_chunks(prep))
        cutter = WindowCutter(
            window,
            [cols.scaled.index(c) for c in cols.inputs],
            [cols.scaled.index(c) for c in cols.targets],
        )

        def windows(part: str, step: int) -> WindowStream:
            wanted = split_origins(plan, part, window, step)
            return Restartable(lambda: cutter.cut(scaled, wanted))

        forecaster = self._new_forecaster()
        fit = forecaster.fit(
            windows("train", 1),
            windows("val", stride),
            train_windows=windows_in(plan, "train", window),
            run_id=self._run_id(prep),
            resume=resume,
        )
        season = prep.season if prep.season and prep.season <= window.past_steps else None
        model_err, naive_err = ErrorAccumulator(cols.targets), ErrorAccumulator(cols.targets)
        seasonal_err, scaled_err = ErrorAccumulator(cols.targets), ErrorAccumulator(cols.targets)
        coverage: CoverageAccumulator | None = None
        pre = prep.preprocessor
        for wb in windows("test", stride):
            pred = forecaster.predict(wb.x)
            scaled_err.add(pred.point, wb.y)
            pred = pred.map(lambda y: pre.inverse_transform(y, cols.targets))
            actual = pre.inverse_transform(wb.y, cols.targets)  # [n, future, T]
            history = pre.inverse_transform(wb.history, cols.targets)  # [n, past, T]
            model_err.add(pred.point, actual)
            if pred.quantiles is not None:
                coverage = coverage or CoverageAccumulator(cols.targets, pred.levels)
                coverage.add(pred.quantiles, actual)
            naive_err.add(seasonal_naive(history, window.future_steps, 1), actual)
            if season:
                seasonal_err.add(seasonal_naive(history, window.future_steps, season), actual)
        baselines = {"naive_last": _stats(naive_err, prep.naive_mae)}
        if season:
            baselines["seasonal_naive"] = _stats(seasonal_err, prep.naive_mae)

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
                "windows_seen": fit.windows_seen,
                "wall_s": round(fit.wall_s, 3),
                "windows_per_s": round(fit.windows_seen / fit.wall_s, 1) if fit.wall_s else 0.0,
                "best_val_loss": fit.best_val_loss,
                "learning_rate": fit.learning_rate or self._settings.network.learning_rate,
                "lr_found": fit.lr_found,
                "log_dir": fit.log_dir,
            },
            "test": {
                "windows": windows_in(plan, "test", window, stride),
                "loss_scaled": _mse(scaled_err),
                **_stats(model_err, prep.naive_mae),
            },
            **({"coverage": coverage.result()} if coverage else {}),
            "baselines": baselines,
            "season_length": season,
        }
        card = ModelCard(
            columns=cols,
            window=window,
            config=self._settings.model_dump(mode="json", by_alias=True),
            metrics={k: report[k] for k in ("test", "baselines", "coverage") if k in report},
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
        return report

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
        config = self._settings.model_dump(mode="json", by_alias=True)
        what = json.dumps([prep.fingerprint, config], sort_keys=True)
        return hashlib.sha256(what.encode()).hexdigest()[:16]

    def _prepare(self, source: ChunkSource) -> Prepared:
        """Check and count every row once (into the cache), then fit the scaler on train rows."""
        start = time.perf_counter()
        header = list(source.header())
        cfg = self._settings.preprocessing_config
        cols = self._settings.columns(header)
        for name, column in (("time_column", cols.time), ("id_column", cfg.id_column)):
            if column is not None and column not in header:
                raise MissingColumn(
                    f"{source.name}: no column '{column}' (preprocessing_config.{name}); "
                    f"the header has {', '.join(map(repr, header))}",
                    field=f"preprocessing_config.{name}",
                )
        if cols.calendar and cols.time is None:
            raise MissingColumn(
                f"{source.name}: calendar_features need a time column, and the header has none "
                f"of {', '.join(TIME_COLUMN_GUESSES)}; set preprocessing_config.time_column",
                field="preprocessing_config.time_column",
            )
        checker = RowChecker(source.name, cols.read, cfg.missing, cols.time)

        def rows() -> Iterator[Chunk]:
            checked = checker(source.chunks(cols.read, time=cols.time, series=cfg.id_column))
            return with_calendar(checked, cols.calendar) if cols.calendar else checked

        fingerprint = source.fingerprint()
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

    def _scaled_chunks(self, prep: Prepared) -> Iterator[Chunk]:
        for chunk in prep.table.chunks():
            values = prep.preprocessor.transform(chunk.values, prep.columns.scaled)
            yield Chunk(chunk.start, values, chunk.series, None, chunk.names)


def _cache_key(fingerprint: str, cols: Columns, id_column: str | None, missing: str) -> str:
    """Names what was cached: the file's bytes and every setting that changes the checked rows."""
    what = [CACHE_LAYOUT, fingerprint, cols.scaled, cols.time, id_column, missing]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:32]


def _stats(err: ErrorAccumulator, scale: dict[str, float]) -> dict[str, dict[str, float]]:
    return {t: e.as_dict() for t, e in err.result(scale).items()}


def _mse(err: ErrorAccumulator) -> float:
    return float(np.mean([e.rmse**2 for e in err.result().values()]))


def _versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out
