"""Use case: train a forecaster from a chunked table, score it on the test split next to the
naive baselines, and publish the artifacts as a new version."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol, cast

from thunder.app.coordination import Ranks
from thunder.app.prepare import Prepared, PrepareData
from thunder.app.publish import PublishRun
from thunder.app.report import DataSummary, RunReport, TestSummary, TrainSummary
from thunder.app.settings import Settings
from thunder.app.training_options import network_config, training_options
from thunder.app.warm_start import Start, find_start
from thunder.app.windows import Scored, Tally, scaled_windows, tally
from thunder.domain.data.sharding import shard_bounds, shard_origins
from thunder.domain.data.splitting import split_origins, windows_in
from thunder.domain.errors import ConfigError
from thunder.domain.ports import (
    ArtifactStore,
    ChunkSource,
    Forecaster,
    ProgressFactory,
    WindowStream,
)
from thunder.domain.scoring.evaluation import SAMPLE_WINDOWS, spread
from thunder.domain.training import CUSTOM, NetworkConfig, TrainingOptions
from thunder.domain.tuning import EpochHook
from thunder.domain.values import FitResult


class ForecasterFactory(Protocol):
    """The forecaster of one run, built for its network and its training options."""

    def __call__(
        self,
        *,
        network: NetworkConfig,
        options: TrainingOptions,
        module: object | None = None,
        start: tuple[str, bytes] | None = None,
    ) -> Forecaster:
        """`module`: a user's network to train instead of the one `network` names (opaque
        here: the forecaster adapter knows what it is). `start`: (its name, a published model)
        whose weights training starts from."""
        ...


class TrainFromChunks:
    def __init__(
        self,
        settings: Settings,
        prepare: PrepareData,
        forecaster_factory: ForecasterFactory,
        publish: PublishRun,
        ranks: Ranks,
        progress_factory: ProgressFactory,
        store: ArtifactStore,
    ) -> None:
        self._settings = settings
        self._prepare = prepare
        self._new_forecaster = forecaster_factory
        self._publish = publish
        self._store = store  # where --init-from finds a kept version
        self._ranks = ranks
        self._new_progress = progress_factory

    def __call__(
        self,
        source: ChunkSource,
        *,
        resume: bool = False,
        find_lr: bool = False,
        progress: bool = False,
        on_epoch: EpochHook | None = None,
        validate_only: bool = False,
        module: object | None = None,
        callbacks: Sequence[object] = (),
        init_from: str | None = None,
        keep_scaler: bool = False,
        find_batch_size: bool = False,
    ) -> RunReport:
        """Train, evaluate and publish. `resume` continues an interrupted run of the same data
        and config from its last epoch checkpoint; `find_lr` runs the learning-rate range test
        first; `progress` shows the passes and the epochs; `on_epoch` hears each epoch's val
        loss and may stop the run (a search's pruner). `validate_only` (a tuning trial) stops
        after the fit: the report has no test scores, and nothing is published. `module` (a
        user's ThunderModule) trains instead of model_config's network; `callbacks` join the
        run's own (both from the Python API). `init_from` (a kept version, or a model file)
        starts from that model's weights, and `keep_scaler` keeps its scaler too.
        `find_batch_size` runs the batch-size finder first and trains with its pick."""
        s = self._settings
        network, custom = network_config(s), _described(module) if module is not None else None
        if find_batch_size and resume:
            raise ConfigError(
                "--find-batch-size does not apply to --resume: the interrupted run goes on "
                "with its own batches; set split_config.batch_size to the size it found",
                field="find_batch_size",
            )
        options = training_options(s, progress, find_lr, on_epoch, find_batch_size)
        start = self._start(init_from, keep_scaler)
        # built first: a user's module that does not fit the windows fails before any data pass
        forecaster = self._new_forecaster(
            network=replace(network, architecture=CUSTOM) if module is not None else network,
            options=replace(options, callbacks=tuple(callbacks)),
            module=module,
            start=(start.source, start.model) if start else None,
        )
        shown = self._new_progress(progress, source.chunk_rows)
        kept = start.preprocessor if start else None
        prep = self._ranks.prepare(
            lambda fitted, rank: self._prepare(source, shown, fitted, rank, kept)
        )
        fit = self._fit(forecaster, prep, resume, custom, start)
        report = RunReport(_data(source, prep), self._train(prep, fit, start), prep.naive_mae)
        if validate_only:  # the search scores the val loss; the test split stays unseen
            return report
        tallies = self._test(forecaster, prep)
        if self._ranks.rank != 0:  # the others take rank 0's report once it has published
            return cast(RunReport, self._ranks.broadcast(None))
        scored = Tally.merged(tallies).scored(prep.naive_mae)
        report = replace(report, test=_test(prep, scored, self._test_windows(prep)))
        files = {
            self._settings.model_path: forecaster.to_bytes(),
            self._settings.preprocessor_path: prep.preprocessor.to_bytes(),
        }
        report = self._publish(
            report, files, prep.columns, scored.evaluation, fit.tracking_run, custom
        )
        self._ranks.broadcast(report)
        return report

    def _start(self, init_from: str | None, keep_scaler: bool) -> Start | None:
        if init_from is None:
            if keep_scaler:
                raise ConfigError(
                    "--keep-scaler keeps the scaler of the model --init-from names: give "
                    "--init-from too",
                    field="keep_scaler",
                )
            return None
        return find_start(self._settings, self._store, init_from, keep_scaler)

    def _windows(self, prep: Prepared, part: str, step: int) -> WindowStream:
        """This rank's shard of the part's windows (all of them in one process)."""
        r = self._ranks
        origins = split_origins(prep.plan, part, self._settings.window, step)
        cut = scaled_windows(prep.table, prep.preprocessor, prep.columns, self._settings.window)
        return cut(shard_origins(origins, r.rank, r.world))

    def _fit(
        self,
        forecaster: Forecaster,
        prep: Prepared,
        resume: bool,
        custom: str | None,
        start: Start | None,
    ) -> FitResult:
        split = self._settings.preprocessing_config.split_config
        mine, sizes = self._ranks.train_shard(
            prep.plan, self._settings.window, split.batch_size, split.eval_stride
        )
        return forecaster.fit(
            self._windows(prep, "train", 1),
            self._windows(prep, "val", split.eval_stride),
            train_windows=mine,
            run_id=self._run_id(prep, custom, start),
            resume=resume,
            batch_sizes=sizes,
        )

    def _train(self, prep: Prepared, fit: FitResult, start: Start | None) -> TrainSummary:
        seen = sum(cast(int, n) for n in self._ranks.gather(fit.windows_seen))
        return TrainSummary(
            epochs=fit.epochs,
            steps=fit.steps,
            windows=windows_in(prep.plan, "train", self._settings.window),
            windows_seen=seen,
            wall_s=round(fit.wall_s, 3),
            windows_per_s=round(seen / fit.wall_s, 1) if fit.wall_s else 0.0,
            processes=self._ranks.world,
            best_val_loss=fit.best_val_loss,
            learning_rate=fit.learning_rate or self._settings.network.learning_rate,
            lr_found=fit.lr_found,
            log_dir=fit.log_dir,
            batch_size=fit.batch_size
            or self._settings.preprocessing_config.split_config.batch_size,
            batch_size_found=fit.batch_size is not None,
            init_from=start.source if start else None,
            kept_scaler=start is not None and start.preprocessor is not None,
        )

    def _test_windows(self, prep: Prepared) -> int:
        stride = self._settings.preprocessing_config.split_config.eval_stride
        return windows_in(prep.plan, "test", self._settings.window, stride)

    def _test(self, forecaster: Forecaster, prep: Prepared) -> list[Tally]:
        """Each rank scores its shard of the test windows; every rank's sums, in rank order."""
        r, total = self._ranks, self._test_windows(prep)
        stride = self._settings.preprocessing_config.split_config.eval_stride
        mine = tally(
            self._windows(prep, "test", stride),
            forecaster,
            prep.preprocessor,
            prep.columns.targets,
            season=prep.season,
            sample_at=spread(SAMPLE_WINDOWS, total),
            offset=shard_bounds(total, r.rank, r.world)[0],
        )
        return [cast(Tally, t) for t in r.gather(mine)]

    def _run_id(self, prep: Prepared, custom: str | None, start: Start | None) -> str:
        """The data's bytes, the whole config, a user's network and the weights it started
        from: a checkpoint only resumes its own run."""
        run = [prep.fingerprint, self._settings.shareable()] + ([custom] if custom else [])
        if start is not None:
            kept = "kept scaler" if start.preprocessor is not None else "refitted scaler"
            run += [hashlib.sha256(start.model).hexdigest(), kept]
        what = json.dumps(run, sort_keys=True)
        return hashlib.sha256(what.encode()).hexdigest()[:16]


def _data(source: ChunkSource, prep: Prepared) -> DataSummary:
    plan = prep.plan
    return DataSummary(
        file=source.name,
        sha256=prep.fingerprint,
        rows=plan.rows,
        series=len(plan.series),
        train_rows=plan.rows_in("train"),
        val_rows=plan.rows_in("val"),
        test_rows=plan.rows_in("test"),
        cache=prep.cache,
        check_s=round(prep.check_s, 3),
        scale_s=round(prep.scale_s, 3),
    )


def _test(prep: Prepared, scored: Scored, windows: int) -> TestSummary:
    metrics = scored.evaluation.as_dict()
    return TestSummary(
        windows=windows,
        loss_scaled=scored.loss_scaled,
        model=metrics["model"],
        baselines=metrics["baselines"],
        by_step=metrics["by_step"],
        coverage=metrics.get("coverage"),
        season_length=prep.season,
    )


def _described(module: object) -> str:
    """A user's network on the model card: 'custom: package.module.Class' of its architecture."""
    net = type(getattr(module, "architecture", module))
    return f"{CUSTOM}: {net.__module__}.{net.__qualname__}"
