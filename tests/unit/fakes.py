"""Small working implementations of the ports, for unit tests through the container."""

import hashlib
import json
from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from thunder.domain.data.table import RowCounter
from thunder.domain.errors import (
    ArtifactCorrupt,
    ArtifactError,
    ArtifactNotFound,
    DataError,
    MissingColumn,
    NotFitted,
    NothingToResume,
)
from thunder.domain.ports import WindowStream
from thunder.domain.scoring.evaluation import ForecastReport
from thunder.domain.training import NetworkConfig, TrainingOptions
from thunder.domain.values import ArtifactSet, Chunk, FitResult, FloatArray, Prediction


class FakeChunkSource:
    """A table in memory, served in chunks; remembers the largest chunk it handed out.

    `times` (int64 per row) and `series` (an id per row) stand for the time and id columns.
    """

    def __init__(
        self,
        table: Mapping[str, Sequence[float]],
        chunk_size: int,
        name: str = "mem.csv",
        time_column: str | None = "date",
        times: Sequence[int] | None = None,
        series: Sequence[str] | None = None,
        id_column: str = "id",
    ) -> None:
        if chunk_size < 1:  # as the file sources
            raise DataError(f"chunk size must be a positive number of rows, got {chunk_size}")
        self._time = [time_column] if time_column else []
        self._id = [id_column] if series is not None else []
        self._table = {k: np.asarray(v, dtype=np.float32) for k, v in table.items()}
        rows = len(next(iter(self._table.values())))
        self._times = np.asarray(times if times is not None else np.arange(rows), dtype=np.int64)
        self._series = None if series is None else [str(s) for s in series]
        self._size = chunk_size
        self._name = name
        self.largest_chunk = 0
        self.passes = 0
        self.rows_read = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def chunk_rows(self) -> int:
        return self._size

    def header(self) -> Sequence[str]:
        return self._time + self._id + list(self._table)

    def chunks(
        self, columns: Sequence[str], *, time: str | None = None, series: str | None = None
    ) -> Iterator[Chunk]:
        missing = [c for c in [*columns, time, series] if c and c not in self.header()]
        if missing:
            raise MissingColumn(f"{self._name}: missing column(s) {missing}", field=missing[0])
        if not len(self._times):
            raise DataError(f"{self._name}: the file has a header but no data rows")
        self.passes += 1
        values = np.stack([self._table[c] for c in columns], axis=1)  # [rows, columns]
        names: list[str] = []
        codes = None
        if series is not None and self._series is not None:
            names = list(dict.fromkeys(self._series))
            codes = np.asarray([names.index(s) for s in self._series], dtype=np.int64)
        for start in range(0, len(values), self._size):
            block = values[start : start + self._size]
            self.largest_chunk = max(self.largest_chunk, len(block))
            self.rows_read += len(block)
            yield Chunk(
                start=start,
                values=block,
                series=None if codes is None else codes[start : start + self._size],
                time=None if time is None else self._times[start : start + self._size],
                names=names,
            )

    def fingerprint(self) -> str:
        """Of every column, as a file's hash covers the whole file (times and ids too)."""
        digest = hashlib.sha256(json.dumps([self.header(), self._series]).encode())
        digest.update(self._times.tobytes())
        for values in self._table.values():
            digest.update(values.tobytes())
        return digest.hexdigest()


class InMemoryRowCache:
    """RowCache holding the checked chunks in a list; counts how often it was built. Keeps one
    entry per origin and drops the timestamps once the step is counted, as the binary cache."""

    def __init__(self) -> None:
        self.tables: dict[str, InMemoryTable] = {}
        self.origins: dict[str, str] = {}  # key -> origin
        self.builds = 0

    def open(self, key: str) -> "InMemoryTable | None":
        return self.tables.get(key)

    def build(self, key: str, rows: Iterable[Chunk], origin: str) -> "InMemoryTable":
        table = InMemoryTable(list(rows))
        self.builds += 1
        for older in [k for k, o in self.origins.items() if o == origin and k != key]:
            del self.tables[older], self.origins[older]
        self.tables[key], self.origins[key] = table, origin
        return table


class InMemoryTable:
    def __init__(self, chunks: list[Chunk]) -> None:
        self._counter = RowCounter()
        for chunk in chunks:
            self._counter.add(chunk)
        self._chunks = [Chunk(c.start, c.values, c.series, None, c.names) for c in chunks]

    @property
    def counts(self) -> Mapping[int, int]:
        return self._counter.counts

    @property
    def names(self) -> Sequence[str]:
        return tuple(self._counter.names)

    @property
    def step_seconds(self) -> float | None:
        return self._counter.step_seconds

    def chunks(self) -> Iterator[Chunk]:
        return iter(self._chunks)


class FakePreprocessor:
    """Centres each column on the mean of the rows it was fitted on."""

    def __init__(self, columns: Sequence[str]) -> None:
        self._columns = tuple(columns)
        self._sum = np.zeros(len(columns))
        self.rows_fitted = 0

    @property
    def columns(self) -> Sequence[str]:
        return self._columns

    def partial_fit(self, values: FloatArray) -> None:
        self._sum += values.sum(axis=0)
        self.rows_fitted += len(values)

    def _mean(self, columns: Sequence[str]) -> npt.NDArray[np.float64]:
        if not self.rows_fitted:
            raise NotFitted("the preprocessor has not been fitted")
        mean = self._sum / self.rows_fitted
        return mean[[self._columns.index(c) for c in columns]]

    def transform(self, values: FloatArray, columns: Sequence[str]) -> FloatArray:
        return (values - self._mean(columns)).astype(np.float32)

    def inverse_transform(self, values: FloatArray, columns: Sequence[str]) -> FloatArray:
        return (values + self._mean(columns)).astype(np.float32)

    def affine(self, columns: Sequence[str]) -> tuple[FloatArray, FloatArray]:
        mean = self._mean(columns).astype(np.float32)
        return mean, np.ones_like(mean)

    def to_bytes(self) -> bytes:
        if not self.rows_fitted:
            raise NotFitted("the preprocessor has not been fitted")
        return json.dumps(
            {"columns": self._columns, "sum": self._sum.tolist(), "rows": self.rows_fitted}
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "") -> "FakePreprocessor":
        try:
            raw = json.loads(data)
            pre = cls(raw["columns"])
            pre._sum = np.asarray(raw["sum"], dtype=np.float64)
            pre.rows_fitted = int(raw["rows"])
        except (ValueError, KeyError, TypeError) as e:  # as the real loader: ArtifactCorrupt
            raise ArtifactCorrupt(f"{origin}: not a thunder preprocessor ({e})") from None
        return pre


class FakeForecaster:
    """Forecasts the last input value of each target (a naive model); records what it was fed."""

    def __init__(
        self,
        target_inputs: Sequence[int] = (0,),
        future_steps: int = 3,
        levels: Sequence[float] = (),
        *,
        network: NetworkConfig | None = None,
        options: TrainingOptions | None = None,
        module: object | None = None,
        start: tuple[str, bytes] | None = None,
    ) -> None:
        """`network`, `options` and `module`: what the training use case asked the container
        for (kept, so a test can check them; the naive forecast needs none)."""
        self.network = network
        self.options = options
        self.module = module
        self.start = start
        self._targets = list(target_inputs)
        self._future = future_steps
        self.levels = tuple(levels)
        self.train_windows_per_epoch: list[int] = []
        self.val_windows = 0
        self.trained_on: list[FloatArray] = []  # the input windows of one pass, as fed
        self.batch_sizes: Sequence[int] | None = None

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
        if resume:  # a finished run leaves no checkpoint, and the fake is never interrupted
            raise NothingToResume(f"no checkpoint of run {run_id}: start without --resume")
        self.batch_sizes = batch_sizes
        self.run_id = run_id
        self.trained_on = [b.x for b in train]
        steps = 0
        for _ in range(2):  # two epochs: the stream must restart
            self.train_windows_per_epoch.append(sum(len(b) for b in train))
            steps += sum(1 for b in train if len(b))  # one optimiser step per batch
        self.val_windows = sum(len(b) for b in val)
        seen = sum(self.train_windows_per_epoch)
        return FitResult(epochs=2, steps=steps, windows_seen=seen, wall_s=0.5, best_val_loss=0.0)

    def predict(self, x: FloatArray) -> Prediction:
        last = x[:, -1, self._targets]  # [n, T]
        point = np.repeat(last[:, None, :], self._future, axis=1)  # [n, future, T]
        if not self.levels:
            return Prediction(point)
        # a band of +-1 scaled unit per 0.4 of level away from the median
        offsets = (np.asarray(self.levels, dtype=np.float32) - 0.5) / 0.4
        return Prediction(point, self.levels, point[..., None] + offsets)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"targets": self._targets, "future": self._future, "levels": self.levels}
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "") -> "FakeForecaster":
        try:
            raw = json.loads(data)
            return cls(raw["targets"], raw["future"], raw.get("levels", ()))
        except (ValueError, KeyError, TypeError) as e:  # as the real loader: ArtifactCorrupt
            raise ArtifactCorrupt(f"{origin}: not a model ({e})") from None


class InMemoryArtifactStore:
    """Versions in a dict, oldest first, the newest `keep` kept; can be told to fail on commit.

    `files` is what each path holds now: the current version's files over those written outside
    the versions. Tests may edit it to corrupt the current version, as editing the file behind a
    configured path would; a load then refuses it, as the real store's checksums do.
    """

    def __init__(self, fail_on_commit: bool = False, keep: int = 5) -> None:
        self.versions: dict[str, dict[str, bytes]] = {}
        self.written: dict[str, bytes] = {}
        self.current: str | None = None
        self.keep = max(1, keep)
        self.fail_on_commit = fail_on_commit
        self.commits = 0
        self._as_published: dict[str, dict[str, bytes]] = {}

    @property
    def files(self) -> ChainMap[str, bytes]:
        return ChainMap(self.versions[self.current] if self.current else {}, self.written)

    def load(self, paths: Sequence[str], version: str | None = None) -> ArtifactSet:
        if version is None and self.current is None:  # plain files, as from before versioning
            return ArtifactSet("unversioned", _pick(self.written, paths, "train a model first"))
        version = version or self.current
        if version not in self.versions:
            raise ArtifactNotFound(f"{version}: no such version (see `thunder versions`)")
        files = self.versions[version]
        if files != self._as_published[version]:
            raise ArtifactCorrupt(f"{version}: a file changed after training")
        return ArtifactSet(version, _pick(files, paths, f"not in version {version}"))

    def current_version(self) -> str | None:
        return self.current

    def history(self) -> list[str]:
        return list(self.versions)

    def activate(self, version: str) -> None:
        if version not in self.versions:
            raise ArtifactNotFound(f"{version}: no such version (see `thunder versions`)")
        self.load([], version)  # checked first, as the real store does
        self.current = version

    def write_file(self, path: str, data: bytes) -> None:
        self.written[path] = data

    def read_file(self, path: str) -> bytes:
        if path in self.files:  # the current version's file at its configured path, as the link
            return self.files[path]
        raise ArtifactNotFound(f"{path}: no such artifact (train a model first)")

    def publish(self, files: Mapping[str, bytes]) -> str:
        if self.fail_on_commit:
            raise ArtifactError("disk full (simulated)")
        self.commits += 1
        version = f"v{self.commits}"
        self.versions[version] = dict(files)
        self._as_published[version] = dict(files)
        self.current = version
        for old in list(self.versions)[: max(0, len(self.versions) - self.keep)]:
            del self.versions[old], self._as_published[old]
        return version


def _pick(files: Mapping[str, bytes], paths: Sequence[str], why: str) -> dict[str, bytes]:
    missing = [p for p in paths if p not in files]
    if missing:
        raise ArtifactNotFound(
            f"{missing[0]}: no such artifact ({why})", field=Path(missing[0]).name
        )
    return {p: files[p] for p in paths}


class InMemoryReportWriter:
    """ReportWriter keeping each report by directory; can be told to fail or to lack plots."""

    def __init__(self, plots: bool = True, fail: bool = False) -> None:
        self.reports: dict[str, ForecastReport] = {}
        self._plots = plots
        self.fail = fail

    @property
    def plots(self) -> bool:
        return self._plots

    def write(self, report: ForecastReport, directory: str) -> list[str]:
        if self.fail:
            raise ArtifactError(f"cannot write the report to {directory}: disk full (simulated)")
        self.reports[directory] = report
        return [f"{directory}/metrics.json", f"{directory}/index.html"]
