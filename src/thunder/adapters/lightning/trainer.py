"""The pl.Trainer of a run: its loggers, where its processes sit (one device, or DDP in the
process group thunder opened), its progress bar, and Lightning kept quiet while it runs."""

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any, Protocol

import pytorch_lightning as pl
from lightning_fabric.plugins.environments.cluster_environment import ClusterEnvironment
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint, RichProgressBar
from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger
from pytorch_lightning.strategies import DDPStrategy

from thunder.adapters.lightning.module import ThunderModule
from thunder.adapters.mlflow_tracker import mlflow_logger
from thunder.domain.training import TrainingOptions


class RunLayout(Protocol):
    """Where this process sits in a launched run (adapters/cluster's Layout is one)."""

    @property
    def environment(self) -> ClusterEnvironment: ...
    @property
    def local_processes(self) -> int: ...
    @property
    def nodes(self) -> int: ...
    @property
    def backend(self) -> str: ...


def build_trainer(
    options: TrainingOptions,
    module: ThunderModule,
    layout: RunLayout | None,
    callbacks: list[pl.Callback],
    max_epochs: int,
    loggers: list[Logger] | None = None,
    root_dir: str | None = None,
) -> pl.Trainer:
    if options.progress:
        callbacks = [*callbacks, RichProgressBar(leave=True)]
    # under manual optimisation Lightning counts every optimiser's step in global_step, and
    # the module clips and accumulates the gradients itself
    groups, manual = module.num_optimizers, not module.automatic_optimization
    max_steps, opt = options.max_steps, options.optimisation
    if loggers:  # each logger gets every optimiser's rate (lr-AdamW, ...) per logged step
        callbacks = [*callbacks, LearningRateMonitor(logging_interval="step")]
    return pl.Trainer(
        max_epochs=max_epochs,
        max_steps=max_steps * groups if max_steps is not None else -1,
        accelerator=options.accelerator,
        **_processes(layout),
        precision=options.precision,  # type: ignore[arg-type]
        callbacks=callbacks,
        gradient_clip_val=None if manual else opt.gradient_clip_val,
        gradient_clip_algorithm=None if manual else opt.gradient_clip_algorithm,
        accumulate_grad_batches=1 if manual else opt.accumulate_grad_batches,
        logger=loggers or False,
        log_every_n_steps=10,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        enable_model_summary=False,
        enable_progress_bar=options.progress,
        num_sanity_val_steps=0,
        default_root_dir=root_dir,
    )


def training_loggers(options: TrainingOptions) -> list[Logger]:
    """CSV metrics always (no extra dependency), plus the one training_config.logger names."""
    loggers: list[Logger] = []
    if options.log_dir is not None:
        loggers.append(CSVLogger(options.log_dir, name="csv"))
        if options.logger == "tensorboard":
            loggers.append(TensorBoardLogger(options.log_dir, name="tensorboard"))
    if options.logger == "mlflow" and options.tracking_uri is not None:
        loggers.append(
            mlflow_logger(options.tracking_uri, options.experiment, options.artifact_location)
        )
    return loggers


def _processes(layout: RunLayout | None) -> dict[str, Any]:
    """Lightning's DDP in the process group thunder opened (see adapters/cluster), or one
    device: more local processes are started by thunder's launcher, never by Lightning's."""
    if layout is None:
        return {"devices": 1}
    strategy = DDPStrategy(
        cluster_environment=layout.environment, process_group_backend=layout.backend
    )
    return {"strategy": strategy, "devices": layout.local_processes, "num_nodes": layout.nodes}


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning's banner lines (GPU available..., tips) that would bury thunder's summary."""
    names = ("pytorch_lightning", "pytorch_lightning.utilities.rank_zero")
    levels = {n: logging.getLogger(n).level for n in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*IterableDataset.*")
            warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")
            # resuming writes into the run's own checkpoint folder, which is not empty by design
            warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
            # no validation windows: the plateau schedule has nothing to follow, by design
            warnings.filterwarnings("ignore", message=".*ReduceLROnPlateau conditioned on metric.*")
            # the learning-rate range test runs on train batches alone, by design
            warnings.filterwarnings("ignore", message=".*but have no `val_dataloader`.*")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
