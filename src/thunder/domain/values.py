"""Plain values that cross the layers. Arrays are numpy; nothing here knows a framework."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
# the largest magnitude the models compute in: rows are kept and scaled as float32
FLOAT32_MAX = float(np.finfo(np.float32).max)
IndexArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class WindowSpec:
    """A training example is `past_steps` rows of inputs followed by `future_steps` target rows."""

    past_steps: int
    future_steps: int

    @property
    def length(self) -> int:
        return self.past_steps + self.future_steps


@dataclass(frozen=True)
class Columns:
    """Which CSV columns feed the model and which it forecasts.

    `inputs` is the model's feature order: file columns, then the calendar features' sin/cos
    columns (`derived`, computed from `time`); `targets` the order of the forecast's last axis.
    `scaled` is every column the preprocessor sees (inputs and targets, no duplicates) and
    `read` the part of it that comes from the file.
    """

    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    time: str | None = None
    calendar: tuple[str, ...] = ()  # calendar feature names ("hour", "day_of_week", ...)

    @property
    def scaled(self) -> tuple[str, ...]:
        return self.read + self.derived  # the order of a chunk's values once calendar is added

    @property
    def derived(self) -> tuple[str, ...]:
        return tuple(f"{f}_{part}" for f in self.calendar for part in ("sin", "cos"))

    @property
    def read(self) -> tuple[str, ...]:
        derived = set(self.derived)
        return tuple(dict.fromkeys(c for c in self.inputs + self.targets if c not in derived))


@dataclass(frozen=True)
class Chunk:
    """Up to `--size` consecutive rows of the numeric columns, in `Columns.scaled` order.

    `start` is the 0-based data row (header excluded) of `values[0]`; rows a missing-value policy
    dropped leave gaps, so downstream code counts positions per series instead of using `start`.
    `series` gives each row's series code (None: the whole file is one series, code 0) and
    `names[code]` its id as written in the file. `time` holds the rows' timestamps as int64
    (nanoseconds, or the raw numbers of a numeric time column) when a time column is read.
    """

    start: int
    values: FloatArray  # [rows, len(columns)]; NaN marks an empty cell
    series: IndexArray | None = None  # [rows]
    time: IndexArray | None = None  # [rows]
    names: Sequence[str] = ()

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True)
class WindowBatch:
    """Windows cut from the (scaled) series.

    x: [n, past_steps, n_inputs]; y: [n, future_steps, n_targets];
    history: [n, past_steps, n_targets], the targets over the input rows (for the naive and
    seasonal-naive baselines, whether or not the targets are inputs).
    """

    x: FloatArray
    y: FloatArray
    history: FloatArray

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def last(self) -> FloatArray:
        """[n, n_targets]: the last observed target row before the forecast."""
        return self.history[:, -1]


@dataclass(frozen=True)
class SeriesSplit:
    """One series' rows by position within the series. A window belongs to the split that holds
    all of its target rows."""

    rows: int
    train: range
    val: range
    test: range


@dataclass(frozen=True)
class SplitPlan:
    """Every series split by position with the same ratios; keyed by series code."""

    series: Mapping[int, SeriesSplit]

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.series.values())

    def rows_in(self, part: str) -> int:
        return sum(len(getattr(s, part)) for s in self.series.values())


@dataclass(frozen=True)
class FitResult:
    epochs: int
    steps: int
    windows_seen: int
    wall_s: float
    best_val_loss: float | None
    log_dir: str | None = None  # where the per-step metrics were written, if anywhere
    learning_rate: float | None = None  # the rate trained with
    lr_found: bool = False  # True when a learning-rate range test chose it
    tracking_run: str | None = None  # the experiment tracker's run (MLflow run id), if any
    batch_size: int | None = None  # the train batch size, when the batch-size finder chose it


@dataclass(frozen=True)
class ErrorStats:
    """Errors in the data's own units; sMAPE in percent; MASE = MAE / in-sample naive MAE."""

    mae: float
    rmse: float
    smape: float
    mase: float | None = None

    def as_dict(self) -> dict[str, float]:
        out = {"mae": self.mae, "rmse": self.rmse, "smape": self.smape}
        if self.mase is not None:
            out["mase"] = self.mase
        return out


@dataclass(frozen=True)
class Prediction:
    """Forecasts for n windows: the point forecast and, from a quantile model, each level's.

    point: [n, future, targets] (the median for a quantile model); quantiles: [n, future,
    targets, len(levels)], non-decreasing along the last axis; levels ascending in (0, 1).
    """

    point: FloatArray
    levels: tuple[float, ...] = ()
    quantiles: FloatArray | None = None

    @classmethod
    def from_outputs(cls, out: FloatArray, levels: tuple[float, ...]) -> Prediction:
        """A network's raw outputs [n, future, targets, Q]: Q = 1 for a point model, else one
        per level. Separately trained levels can cross; sorting them is the monotone
        rearrangement (Chernozhukov et al. 2010), which never makes the pinball loss worse."""
        if not levels:
            return cls(out[..., 0])
        q = np.sort(out, axis=-1)
        return cls(q[..., levels.index(0.5)], levels, q)

    @classmethod
    def empty(cls, future: int, targets: int, levels: tuple[float, ...]) -> Prediction:
        """The forecasts of no windows: networks reshape by batch size, which 0 leaves
        ambiguous, so a model answers an empty batch without running."""
        out = np.zeros((0, future, targets, max(1, len(levels))), dtype=np.float32)
        return cls.from_outputs(out, levels)

    def map(self, f: Callable[[FloatArray], FloatArray]) -> Prediction:
        """The same forecasts through a monotone per-target map f: [..., targets] -> [...,
        targets] (e.g. undoing the scaling), applied to the point and every level."""
        if self.quantiles is None:
            return Prediction(f(self.point))
        q = np.moveaxis(f(np.moveaxis(self.quantiles, -1, 0)), 0, -1)  # f over [Q, n, future, T]
        # the point is the median level: take it from the mapped levels, not map it again
        return Prediction(q[..., self.levels.index(0.5)], self.levels, q)


def level_name(level: float) -> str:
    """0.1 -> 'q10', 0.975 -> 'q97.5': the suffix of a quantile's column (`meantemp_q10`)."""
    return f"q{round(level * 100, 6):g}"


@dataclass(frozen=True)
class Scaling:
    """The fitted scaler as numbers: a column's scaled value is (value - mean) / scale."""

    input_mean: tuple[float, ...]
    input_scale: tuple[float, ...]
    target_mean: tuple[float, ...]
    target_scale: tuple[float, ...]


@dataclass(frozen=True)
class ArtifactSet:
    """One trained version's files, read together: never a mix of two runs."""

    version: str
    files: Mapping[str, bytes]  # by configured path


@dataclass(frozen=True)
class ModelCard:
    """What a served model is: written beside the weights, returned by `GET /`."""

    columns: Columns
    window: WindowSpec
    config: Mapping[str, Any]
    metrics: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    trained_at: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "columns": {
                "inputs": list(self.columns.inputs),
                "targets": list(self.columns.targets),
                "time": self.columns.time,
                "calendar": list(self.columns.calendar),
            },
            "window": {
                "past_steps": self.window.past_steps,
                "future_steps": self.window.future_steps,
            },
            "config": dict(self.config),
            "metrics": dict(self.metrics),
            "data": dict(self.data),
            "versions": dict(self.versions),
            "trained_at": self.trained_at,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ModelCard:
        cols = raw["columns"]
        window = raw["window"]
        return cls(
            columns=Columns(
                inputs=tuple(cols["inputs"]),
                targets=tuple(cols["targets"]),
                time=cols["time"],
                calendar=tuple(cols.get("calendar", ())),
            ),
            window=WindowSpec(int(window["past_steps"]), int(window["future_steps"])),
            config=raw.get("config", {}),
            metrics=raw.get("metrics", {}),
            data=raw.get("data", {}),
            versions=raw.get("versions", {}),
            trained_at=str(raw.get("trained_at", "")),
        )
