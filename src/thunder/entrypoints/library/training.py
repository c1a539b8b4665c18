"""`thunder.train`: `thunder chunk` from Python. The same use case (TrainFromChunks) publishes
the same files as one version, atomically; nothing is printed unless progress is asked for."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike, fspath
from typing import TYPE_CHECKING

from thunder.app.container import Container
from thunder.app.report import RunReport
from thunder.domain.errors import InvalidArgument
from thunder.entrypoints.bootstrap import bootstrap
from thunder.entrypoints.library.config import ConfigLike, positive, settings_of
from thunder.entrypoints.library.frames import TrainingData
from thunder.entrypoints.library.sources import source_of

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from thunder.entrypoints.library.model import TrainedModel

DEFAULT_CHUNK_SIZE = 10_000
ONE_PROCESS = (
    "thunder.train runs in this one process; to train on several devices or nodes, run "
    "`thunder chunk` (it starts the processes training_config asks for)"
)


@dataclass(frozen=True)
class TrainingRun:
    """What `thunder.train` returns: the run's report and the version it published."""

    report: RunReport
    """Test metrics next to the naive baselines, the data and training summaries, timings and
    the published files (`report.as_dict()` is the JSON `thunder chunk --report` writes)."""
    _container: Container = field(repr=False, compare=False)

    @property
    def version(self) -> str:
        """The published version (what `thunder versions` lists)."""
        assert self.report.artifacts is not None  # a run that returns has published
        return self.report.artifacts.version

    def load(self) -> "TrainedModel":
        """The model this run published, ready to forecast (`thunder.load` of its version)."""
        from thunder.entrypoints.library.model import load_from

        return load_from(self._container, version=self.version)


def train(
    data: TrainingData,
    config: ConfigLike = None,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = False,
    resume: bool = False,
    find_lr: bool = False,
    module: "pl.LightningModule | None" = None,
    callbacks: "Sequence[pl.Callback]" = (),
    init_from: "str | PathLike[str] | None" = None,
    keep_scaler: bool = False,
    find_batch_size: bool = False,
) -> TrainingRun:
    """Train a model, score it on the test split and publish it as a new version, exactly as
    `thunder chunk` does: the same files, the same atomic publish, the same report.

    Args:
        data: the path of a CSV (maybe .gz/.bz2/.xz/.zst) or Parquet file, read `chunk_size`
            rows at a time; a pandas DataFrame; or an iterable of DataFrames with the same
            columns (a list is read in place; a one-shot generator, such as
            `pd.read_csv(path, chunksize=...)`, is written once to a temporary Parquet file
            beside the row cache, as every epoch reads the data again). A DatetimeIndex or a
            named index counts as a column (an unnamed DatetimeIndex as the time column).
        config: the path of a config.json, the Settings `thunder.load_config` returned, or
            None for the CLI's lookup ($THUNDER_CONFIG, else ./config.json).
        chunk_size: rows per chunk, as `thunder chunk --size`: bounds memory.
        progress: show progress bars for the data passes and the epochs (stderr).
        resume: continue an interrupted run of the same data and config from its last epoch
            checkpoint (NothingToResume when there is none).
        find_lr: run the learning-rate range test first and train with its suggestion.
        module: a `thunder.ThunderModule` to train instead of the network model_config names.
            Its architecture reads scaled windows [batch, past_steps, num_features] and returns
            [batch, future_steps, num_targets] (checked on one dummy batch before any data is
            read); its criterion, optimizers and schedulers are used as given. The published
            version keeps the trained network as a torch.export program, so `thunder serve`
            and `thunder.load` forecast without your class.
        callbacks: Lightning callbacks added to the run's own (early stopping, the best
            epoch's weights, checkpoints for `resume`).
        init_from: start from the weights of a published model instead of fresh ones (fine-
            tuning, as `chunk --init-from`): a kept version's id (`thunder versions`) or the
            path of a model file thunder wrote (its card beside it). Same network, columns
            and window, else a ConfigError naming the first field that differs.
        keep_scaler: with `init_from`, keep that model's fitted scaler instead of fitting one
            on `data`'s train rows.
        find_batch_size: run Lightning's batch-size finder first and train with the largest
            batch that fits in the GPU's memory (a ConfigError on the CPU).

    Returns:
        The run: `.report` (a RunReport), `.version`, and `.load()` for the published model.

    Raises:
        ThunderError: as the CLI would say it; e.g. MissingColumn naming a target the data
            lacks, ConfigError, InvalidArgument for a value of the wrong kind.
    """
    container = bootstrap(settings=settings_of(config))
    return train_with(
        container,
        data,
        chunk_size=chunk_size,
        progress=progress,
        resume=resume,
        find_lr=find_lr,
        module=module,
        callbacks=callbacks,
        init_from=init_from,
        keep_scaler=keep_scaler,
        find_batch_size=find_batch_size,
    )


def train_with(
    container: Container,
    data: TrainingData,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = False,
    resume: bool = False,
    find_lr: bool = False,
    module: "pl.LightningModule | None" = None,
    callbacks: "Sequence[pl.Callback]" = (),
    init_from: "str | PathLike[str] | None" = None,
    keep_scaler: bool = False,
    find_batch_size: bool = False,
) -> TrainingRun:
    """`train` with a container already built (bootstrap's, or a test's with fakes)."""
    positive(chunk_size, "chunk_size")
    time = container.settings().preprocessing_config.time_column
    with source_of(container, data, chunk_size, time) as source:  # nothing read yet
        container.check_before_training()()
        # with one_process_only set, a config asking for several processes is a ConfigError
        # and nothing is launched: this process trains
        container.launch_ranks(command=[], one_process_only=ONE_PROCESS)
        report = container.train_from_chunks()(
            source,
            resume=resume,
            find_lr=find_lr,
            progress=progress,
            module=module,
            callbacks=_listed(callbacks),
            init_from=_optional_text(init_from, "init_from"),
            keep_scaler=keep_scaler,
            find_batch_size=find_batch_size,
        )
    return TrainingRun(report, container)


def _optional_text(value: object, name: str) -> str | None:
    if value is not None and not isinstance(value, str | PathLike):
        raise InvalidArgument(
            f"{name} must be a version id or a path, got {type(value).__name__}", field=name
        )
    return None if value is None else str(fspath(value))


def _listed(callbacks: "Sequence[pl.Callback]") -> "list[pl.Callback]":
    if isinstance(callbacks, str | bytes) or not isinstance(callbacks, Sequence):
        raise InvalidArgument(
            f"callbacks must be a list of Lightning callbacks, got {type(callbacks).__name__}",
            field="callbacks",
        )
    return list(callbacks)
