"""Use case: train a forecaster from a chunked table, evaluate it, and keep the artifacts."""

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np

from thunder.app.settings import Settings
from thunder.domain.errors import MissingColumn
from thunder.domain.metrics import ErrorAccumulator
from thunder.domain.ports import ArtifactStore, ChunkSource, Forecaster, Preprocessor, WindowStream
from thunder.domain.splitting import origins, plan_split
from thunder.domain.streams import Restartable
from thunder.domain.values import Chunk, Columns, ModelCard, SplitPlan, WindowBatch
from thunder.domain.windowing import WindowCutter

PreprocessorFactory = Callable[[Sequence[str]], Preprocessor]
ForecasterFactory = Callable[[], Forecaster]
VERSIONED = ("thunder", "torch", "pytorch-lightning", "scikit-learn", "numpy", "pandas")


@dataclass(frozen=True)
class Prepared:
    columns: Columns
    plan: SplitPlan
    preprocessor: Preprocessor
    ingest_s: float


class TrainFromChunks:
    def __init__(
        self,
        settings: Settings,
        preprocessor_factory: PreprocessorFactory,
        forecaster_factory: ForecasterFactory,
        store: ArtifactStore,
    ) -> None:
        self._settings = settings
        self._new_preprocessor = preprocessor_factory
        self._new_forecaster = forecaster_factory
        self._store = store

    def __call__(self, source: ChunkSource) -> dict[str, Any]:
        prep = self._prepare(source)
        cols, plan, window = prep.columns, prep.plan, self._settings.window
        scaled = Restartable(lambda: self._scaled_chunks(source, prep))
        cutter = WindowCutter(
            window,
            [cols.scaled.index(c) for c in cols.inputs],
            [cols.scaled.index(c) for c in cols.targets],
        )

        def windows(part: range) -> WindowStream:
            return Restartable(lambda: cutter.cut(scaled, origins(part, window)))

        forecaster = self._new_forecaster()
        fit = forecaster.fit(windows(plan.train), windows(plan.val))
        test_loss = forecaster.test_loss(windows(plan.test))
        model_err, naive_err = ErrorAccumulator(cols.targets), ErrorAccumulator(cols.targets)
        for wb in windows(plan.test):
            self._score(wb, forecaster, prep.preprocessor, cols, model_err, naive_err)

        report: dict[str, Any] = {
            "data": {
                "file": source.name,
                "sha256": source.fingerprint(),
                "rows": plan.rows,
                "train_rows": len(plan.train),
                "val_rows": len(plan.val),
                "test_rows": len(plan.test),
                "ingest_s": round(prep.ingest_s, 3),
            },
            "train": {
                "epochs": fit.epochs,
                "steps": fit.steps,
                "windows": len(origins(plan.train, window)),
                "windows_seen": fit.windows_seen,
                "wall_s": round(fit.wall_s, 3),
                "windows_per_s": round(fit.windows_seen / fit.wall_s, 1) if fit.wall_s else 0.0,
                "best_val_loss": fit.best_val_loss,
            },
            "test": {
                "windows": len(origins(plan.test, window)),
                "loss_scaled": test_loss,
                **{t: e.as_dict() for t, e in model_err.result().items()},
            },
            "baselines": {"naive_last": {t: e.as_dict() for t, e in naive_err.result().items()}},
        }
        card = ModelCard(
            columns=cols,
            window=window,
            config=self._settings.model_dump(mode="json", by_alias=True),
            metrics={"test": report["test"], "baselines": report["baselines"]},
            data=report["data"],
            versions=_versions(),
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        s = self._settings
        self._store.write_all(
            {
                s.model_path: forecaster.to_bytes(),
                s.preprocessor_path: prep.preprocessor.to_bytes(),
                s.card_path(): json.dumps(card.as_dict(), indent=2).encode(),
            }
        )
        report["artifacts"] = {
            "model": s.model_path,
            "preprocessor": s.preprocessor_path,
            "card": s.card_path(),
        }
        return report

    def _prepare(self, source: ChunkSource) -> Prepared:
        """Two passes, each one chunk at a time: count (and validate) rows, then fit the scaler."""
        start = time.perf_counter()
        header = list(source.header())
        cols = self._settings.columns(header)
        if cols.time is not None and cols.time not in header:
            raise MissingColumn(
                f"{source.name}: no time column '{cols.time}' (preprocessing_config.time_column)",
                field="preprocessing_config.time_column",
            )
        rows = sum(len(c.values) for c in source.chunks(cols.scaled))
        split = self._settings.preprocessing_config.split_config
        plan = plan_split(rows, split.train_ratio, split.val_ratio, self._settings.window)
        pre = self._new_preprocessor(cols.scaled)
        for chunk in source.chunks(cols.scaled):
            if chunk.start >= plan.train.stop:
                break
            pre.partial_fit(chunk.values[: plan.train.stop - chunk.start])
        return Prepared(cols, plan, pre, time.perf_counter() - start)

    @staticmethod
    def _scaled_chunks(source: ChunkSource, prep: Prepared) -> Iterator[Chunk]:
        for chunk in source.chunks(prep.columns.scaled):
            yield Chunk(chunk.start, prep.preprocessor.transform(chunk.values, prep.columns.scaled))

    @staticmethod
    def _score(
        wb: WindowBatch,
        forecaster: Forecaster,
        pre: Preprocessor,
        cols: Columns,
        model_err: ErrorAccumulator,
        naive_err: ErrorAccumulator,
    ) -> None:
        actual = pre.inverse_transform(wb.y, cols.targets)  # [n, future, T]
        forecast = pre.inverse_transform(forecaster.predict(wb.x), cols.targets)
        last = pre.inverse_transform(wb.last, cols.targets)  # [n, T]
        naive = np.repeat(last[:, None, :], actual.shape[1], axis=1)  # [n, future, T]
        model_err.add(forecast, actual)
        naive_err.add(naive, actual)


def _versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out
