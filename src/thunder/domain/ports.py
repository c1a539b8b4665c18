"""The ports: what the use cases need from the outside world, as structural protocols.

Adapters and test fakes implement them without inheriting; the container's provider annotations
make mypy check that each adapter still fits its port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from thunder.domain.scoring.evaluation import ForecastReport
from thunder.domain.tuning import Param, TrialOutcome
from thunder.domain.values import (
    ArtifactSet,
    Chunk,
    FitResult,
    FloatArray,
    Prediction,
    Scaling,
    WindowBatch,
)

# A stream of window batches that restarts on every iter(): each epoch reads the data again.
WindowStream = Iterable[WindowBatch]


class ChunkSource(Protocol):
    """Rows of a table, read in bounded chunks. `chunks()` starts from the top on every call."""

    @property
    def name(self) -> str: ...

    @property
    def chunk_rows(self) -> int:
        """The most rows one chunk holds: it bounds memory, and the row cache reads back in
        chunks of the same size."""
        ...

    def header(self) -> Sequence[str]: ...

    def chunks(
        self, columns: Sequence[str], *, time: str | None = None, series: str | None = None
    ) -> Iterator[Chunk]:
        """Numeric `columns` (empty cells as NaN), plus the parsed `time` column and the `series`
        id column as codes when asked for."""
        ...

    def fingerprint(self) -> str:
        """Changes whenever the content does (a hash of the bytes)."""
        ...


class Table(Protocol):
    """Checked rows ready for training, read again on every pass, one chunk at a time."""

    @property
    def counts(self) -> Mapping[int, int]:
        """Rows per series code."""
        ...

    @property
    def names(self) -> Sequence[str]:
        """Series ids as written in the file, by code."""
        ...

    @property
    def step_seconds(self) -> float | None:
        """Median sampling step of the time column (None without one)."""
        ...

    def chunks(self) -> Iterator[Chunk]: ...


class RowCache(Protocol):
    """Keeps checked rows in a compact form, so passes after the first skip parsing the CSV."""

    def open(self, key: str) -> Table | None:
        """The table stored under `key`, or None when there is none (or it is damaged)."""
        ...

    def build(self, key: str, rows: Iterable[Chunk], origin: str) -> Table:
        """Store `rows` under `key` (replacing older entries for `origin`); all or nothing."""
        ...


class Progress(Protocol):
    """Shows how a pass over the rows goes (rows/s, chunk k of n, ETA); silent when not wanted."""

    def track(
        self, chunks: Iterable[Chunk], label: str, total_rows: int | None = None
    ) -> Iterator[Chunk]: ...


class Preprocessor(Protocol):
    """Scales every numeric column; fitted incrementally on the train rows only."""

    @property
    def columns(self) -> Sequence[str]: ...

    def partial_fit(self, values: FloatArray) -> None: ...

    def transform(self, values: FloatArray, columns: Sequence[str]) -> FloatArray:
        """Scale `values` [..., len(columns)] whose last axis holds `columns` (any subset)."""
        ...

    def inverse_transform(self, values: FloatArray, columns: Sequence[str]) -> FloatArray:
        """Undo `transform`: back to the data's own units."""
        ...

    def affine(self, columns: Sequence[str]) -> tuple[FloatArray, FloatArray]:
        """(mean, scale) of `columns`, in that order: transform(v) = (v - mean) / scale."""
        ...

    def to_bytes(self) -> bytes: ...


class InferenceModel(Protocol):
    """Maps scaled input windows [n, past, inputs] to scaled forecasts [n, future, targets],
    with quantile forecasts too when the model was trained for them. What serving needs."""

    def predict(self, x: FloatArray) -> Prediction: ...


@runtime_checkable
class ModuleSource(Protocol):
    """A model that can hand out its trained network as a LightningModule (thunder's
    ThunderModule) whose predictor scales raw windows and returns the data's units."""

    def as_module(self, scaling: Scaling) -> object: ...


class Forecaster(InferenceModel, Protocol):
    """A InferenceModel that trains, and saves itself."""

    def fit(
        self,
        train: WindowStream,
        val: WindowStream,
        *,
        train_windows: int | None = None,
        run_id: str | None = None,
        resume: bool = False,
        batch_sizes: Sequence[int] | None = None,
    ) -> FitResult:
        """`train_windows` (windows per epoch), when known, sizes step-based LR schedules.
        `batch_sizes`: the exact sizes of an epoch's batches (a distributed run keeps every
        process's batch count equal); None: batches of the configured size.
        `run_id` names this data + config: checkpoints are kept under it each epoch, and
        `resume` continues from the last one (NothingToResume when there is none)."""
        ...

    def to_bytes(self) -> bytes: ...


class ArtifactStore(Protocol):
    """Keeps trained artifacts as versions, keyed by their configured paths."""

    def publish(self, files: Mapping[str, bytes]) -> str:
        """Store the files as a new version and make it current, all or nothing; its id."""
        ...

    def load(self, paths: Sequence[str], version: str | None = None) -> ArtifactSet:
        """The files of `version` (default: the current one), checked against what was written."""
        ...

    def current_version(self) -> str | None: ...

    def write_file(self, path: str, data: bytes) -> None:
        """One file outside the versions, replaced atomically (an export to a chosen path)."""
        ...

    def read_file(self, path: str) -> bytes:
        """One file as it is, wherever it lies (a model file --init-from names);
        ArtifactNotFound when there is none."""
        ...

    def history(self) -> list[str]:
        """Kept versions, oldest first."""
        ...

    def activate(self, version: str) -> None:
        """Make a kept version the current one (a rollback)."""
        ...


class ReportWriter(Protocol):
    """Writes a forecast report as files: metrics.json, PNG plots and one self-contained
    index.html that shows them."""

    @property
    def plots(self) -> bool:
        """False when it writes the metrics and tables only (the plotting library is missing)."""
        ...

    def write(self, report: ForecastReport, directory: str) -> list[str]:
        """Replace `directory` with the report, whole or not at all; the files written."""
        ...


class Cluster(Protocol):
    """The processes of one training run: one, or the ranks of a distributed run. Collectives
    block until every rank has called them."""

    @property
    def rank(self) -> int:
        """0 .. world_size - 1; rank 0 prepares the data first and writes the artifacts."""
        ...

    @property
    def world_size(self) -> int: ...

    def broadcast(self, value: object) -> object:
        """Rank 0's `value`, on every rank."""
        ...

    def gather(self, value: object) -> list[object]:
        """Every rank's `value`, in rank order, on every rank."""
        ...


class ExperimentTracker(Protocol):
    """An experiment log (MLflow) a published training run is recorded in, beside the
    per-epoch metrics the trainer logged into the same run."""

    @property
    def uri(self) -> str:
        """Where the runs are kept (the tracking URI)."""
        ...

    def record(
        self,
        run: str,
        *,
        params: Mapping[str, str],
        metrics: Mapping[str, float],
        files: Mapping[str, bytes],
        tags: Mapping[str, str],
    ) -> None:
        """Add the config, the final report's numbers and the artifact files to `run`."""
        ...


class Trial(Protocol):
    """One point of a hyper-parameter search: draws the values, hears the val loss each epoch."""

    @property
    def number(self) -> int: ...

    def choose(self, name: str, choices: Sequence[Param]) -> Param: ...

    def suggest_int(self, name: str, low: int, high: int) -> int: ...

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...

    def report(self, value: float, epoch: int) -> None: ...

    def should_prune(self) -> bool:
        """True when the trial's losses so far say it will not win: stop it."""
        ...


class HyperparameterSearch(Protocol):
    """A stored study: a rerun continues it, and the trials already finished count."""

    def trials(self) -> list[TrialOutcome]:
        """Every trial of the study so far, oldest first."""
        ...

    def run(self, objective: Callable[[Trial], float], trials: int, timeout: float | None) -> None:
        """Run `trials` more trials, fewer when `timeout` seconds pass first. An objective that
        raises TrialPruned ends its trial as pruned."""
        ...


# How the use cases get adapters they make per call or per file (the container provides them).
PreprocessorLoader = Callable[[bytes, str], Preprocessor]  # (bytes, where from) -> scaler
ModelLoader = Callable[[bytes, str], InferenceModel]  # (bytes, where from) -> model
ProgressFactory = Callable[[bool, int], Progress]  # (shown, rows per chunk) -> progress
RowCacheFactory = Callable[[Path, int], RowCache]  # (directory, rows per chunk read back)
