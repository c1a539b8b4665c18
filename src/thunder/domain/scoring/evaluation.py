"""Score forecasts against actuals window by window: the model next to the naive baselines, per
target and per horizon step, plus a few whole windows kept for the report's plots.

Memory is the accumulators (a few numbers per step and target) and those sample windows,
however many windows stream past. Everything is in the data's own units.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from thunder.domain.errors import NotEnoughData
from thunder.domain.scoring.metrics import CoverageAccumulator, ErrorAccumulator, seasonal_naive
from thunder.domain.values import (
    ErrorStats,
    FloatArray,
    Prediction,
    SeriesSplit,
    SplitPlan,
    WindowSpec,
)

NAIVE, SEASONAL = "naive_last", "seasonal_naive"


@dataclass(frozen=True)
class SampleWindow:
    """One evaluated window, whole: what the forecast-vs-actual plot draws."""

    index: int  # 0-based among the evaluated windows, in the order they were read
    history: FloatArray  # [past, targets]
    actual: FloatArray  # [future, targets]
    forecast: FloatArray  # [future, targets] (the median of a quantile model)
    quantiles: FloatArray | None = None  # [future, targets, levels]


@dataclass(frozen=True)
class Evaluation:
    targets: tuple[str, ...]
    windows: int
    model: Mapping[str, ErrorStats]  # by target
    baselines: Mapping[str, Mapping[str, ErrorStats]]  # NAIVE / SEASONAL -> by target
    by_step: Mapping[str, Mapping[str, list[ErrorStats]]]  # "model", NAIVE, ... -> target -> steps
    season: int | None = None
    levels: tuple[float, ...] = ()
    coverage: Mapping[str, Mapping[str, float]] | None = None
    samples: Sequence[SampleWindow] = ()

    def as_dict(self) -> dict[str, Any]:
        """The metrics as plain JSON values (the samples stay out: they are for the plots)."""
        out: dict[str, Any] = {
            "windows": self.windows,
            "model": _table(self.model),
            "baselines": {name: _table(stats) for name, stats in self.baselines.items()},
            "by_step": {
                name: {
                    t: {k: [s.as_dict().get(k) for s in steps] for k in steps[0].as_dict()}
                    for t, steps in by_target.items()
                    if steps
                }
                for name, by_target in self.by_step.items()
            },
            "season_length": self.season,
        }
        if self.coverage is not None:
            out["coverage"] = {t: dict(c) for t, c in self.coverage.items()}
        return out


@dataclass(frozen=True)
class ForecastReport:
    """What a report shows: an evaluation and where it came from."""

    title: str
    data: str  # the evaluated file
    version: str  # the model version evaluated
    window: WindowSpec
    evaluation: Evaluation
    context: Mapping[str, Any] = field(default_factory=dict)  # more provenance for metrics.json

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "data": self.data,
            "version": self.version,
            "window": {
                "past_steps": self.window.past_steps,
                "future_steps": self.window.future_steps,
            },
            **dict(self.context),
            **self.evaluation.as_dict(),
        }


class Scoreboard:
    """Feeds each batch of windows to the model's, the naive and the seasonal-naive errors."""

    def __init__(
        self,
        targets: Sequence[str],
        season: int | None,
        sample_at: Sequence[int] = (),
        offset: int = 0,
    ) -> None:
        """`offset`: the index of the first window this board sees (a rank's shard of them)."""
        self._targets = tuple(targets)
        self._season = season
        self._model = ErrorAccumulator(targets)
        self._naive = ErrorAccumulator(targets)
        self._seasonal = ErrorAccumulator(targets)
        self._coverage: CoverageAccumulator | None = None
        self._levels: tuple[float, ...] = ()
        self._sample_at = sorted(set(sample_at))
        self._samples: list[SampleWindow] = []
        self._offset = offset
        self._seen = 0

    def add(self, pred: Prediction, actual: FloatArray, history: FloatArray) -> None:
        """pred: the forecasts of n windows; actual [n, future, T]; history [n, past, T]."""
        future = actual.shape[1]
        self._model.add(pred.point, actual)
        if pred.quantiles is not None:
            self._levels = pred.levels
            self._coverage = self._coverage or CoverageAccumulator(self._targets, pred.levels)
            self._coverage.add(pred.quantiles, actual)
        self._naive.add(seasonal_naive(history, future, 1), actual)
        if self._season:
            self._seasonal.add(seasonal_naive(history, future, self._season), actual)
        self._keep_samples(pred, actual, history)
        self._seen += len(actual)

    def _keep_samples(self, pred: Prediction, actual: FloatArray, history: FloatArray) -> None:
        for index in self._sample_at:
            i = index - self._offset - self._seen
            if 0 <= i < len(actual):
                q = None if pred.quantiles is None else pred.quantiles[i].copy()
                self._samples.append(
                    SampleWindow(
                        index, history[i].copy(), actual[i].copy(), pred.point[i].copy(), q
                    )
                )

    def merge(self, other: "Scoreboard") -> None:
        """Add what another board saw: the shard of the windows another rank scored."""
        self._model.merge(other._model)
        self._naive.merge(other._naive)
        self._seasonal.merge(other._seasonal)
        if other._coverage is not None:
            self._levels = other._levels
            if self._coverage is None:
                self._coverage = CoverageAccumulator(self._targets, other._levels)
            self._coverage.merge(other._coverage)
        self._samples = sorted([*self._samples, *other._samples], key=lambda w: w.index)
        self._seen += other._seen

    def result(self, scale: Mapping[str, float] | None = None) -> Evaluation:
        """`scale`: MASE's denominator per target (the in-sample naive MAE of the train rows)."""
        parts = {"model": self._model, NAIVE: self._naive}
        if self._season:
            parts[SEASONAL] = self._seasonal
        return Evaluation(
            targets=self._targets,
            windows=self._seen,
            model=self._model.result(scale),
            baselines={name: parts[name].result(scale) for name in parts if name != "model"},
            by_step={name: acc.by_step(scale) for name, acc in parts.items()},
            season=self._season,
            levels=self._levels,
            coverage=self._coverage.result() if self._coverage else None,
            samples=tuple(self._samples),
        )


SAMPLE_WINDOWS = 4  # windows a report draws whole (forecast vs actual), spread over the split


def spread(count: int, total: int) -> list[int]:
    """`count` window indices spread evenly over `total` windows, first and last included."""
    if total <= 0 or count <= 0:
        return []
    return sorted({round(float(i)) for i in np.linspace(0, total - 1, min(count, total))})


def whole_plan(counts: Mapping[int, int], window: WindowSpec, source: str) -> SplitPlan:
    """Every row of every series as the test split: evaluating a model on a file of its own."""
    plan = SplitPlan(
        {code: SeriesSplit(rows, range(0), range(0), range(rows)) for code, rows in counts.items()}
    )
    if all(rows < window.length for rows in counts.values()):
        longest = max(counts.values(), default=0)
        what = (
            f"each of its {len(counts)} series has fewer rows (the longest {longest})"
            if len(counts) > 1
            else f"{longest} rows, fewer"
        )
        raise NotEnoughData(
            f"{source}: {what} than one window of past_steps={window.past_steps} + "
            f"future_steps={window.future_steps}",
            field="preprocessing_config.split_config.past_steps",
        )
    return plan


def _table(stats: Mapping[str, ErrorStats]) -> dict[str, dict[str, float]]:
    return {t: s.as_dict() for t, s in stats.items()}
