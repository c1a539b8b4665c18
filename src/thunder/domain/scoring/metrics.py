"""Streaming forecast errors, accumulated batch by batch so the test split never sits in memory."""

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from thunder.domain.data.series import positioned
from thunder.domain.values import Chunk, ErrorStats, FloatArray, SplitPlan, level_name


class ErrorAccumulator:
    """Sums |e|, e^2 and the sMAPE terms per horizon step and target over every window seen, in
    float64: the totals are the sums over the steps."""

    def __init__(self, targets: Sequence[str]) -> None:
        self._targets = tuple(targets)
        # [future, targets] each, sized by the first batch (the horizon is the data's)
        self._abs = np.zeros((0, len(targets)))
        self._sq = np.zeros((0, len(targets)))
        self._smape = np.zeros((0, len(targets)))
        self._windows = 0

    def add(self, forecast: FloatArray, actual: FloatArray) -> None:
        """forecast, actual: [n, future, targets] in the data's own units."""
        f, a = forecast.astype(np.float64), actual.astype(np.float64)
        err = f - a  # [n, future, targets]
        denom = np.abs(a) + np.abs(f)
        # 0/0 (both zero) is a perfect forecast: it adds 0, not NaN
        ratio = np.divide(2 * np.abs(err), denom, out=np.zeros_like(err), where=denom > 0)
        if self._windows == 0:
            shape = (err.shape[1], err.shape[2])
            self._abs, self._sq, self._smape = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self._abs += np.abs(err).sum(axis=0)  # [future, targets]
        self._sq += np.square(err).sum(axis=0)
        self._smape += ratio.sum(axis=0)
        self._windows += err.shape[0]

    def merge(self, other: "ErrorAccumulator") -> None:
        """Add the windows another accumulator saw (another rank's shard)."""
        if other._windows == 0:
            return
        if self._windows == 0:
            self._abs, self._sq, self._smape = (np.zeros_like(other._abs) for _ in range(3))
        self._abs += other._abs
        self._sq += other._sq
        self._smape += other._smape
        self._windows += other._windows

    @property
    def count(self) -> int:
        """(window, step) pairs seen."""
        return self._windows * self._abs.shape[0]

    def result(self, scale: Mapping[str, float] | None = None) -> dict[str, ErrorStats]:
        """`scale`: the in-sample naive MAE per target (see naive_scale), for MASE."""
        n = max(self.count, 1)
        a, q, s = self._abs.sum(axis=0), self._sq.sum(axis=0), self._smape.sum(axis=0)
        return {
            t: _stats(a[i], q[i], s[i], n, (scale or {}).get(t))
            for i, t in enumerate(self._targets)
        }

    def by_step(self, scale: Mapping[str, float] | None = None) -> dict[str, list[ErrorStats]]:
        """The same errors for each horizon step on its own: {target: [step 1, step 2, ...]}."""
        n = max(self._windows, 1)
        return {
            t: [
                _stats(a, q, s, n, (scale or {}).get(t))
                for a, q, s in zip(self._abs[:, i], self._sq[:, i], self._smape[:, i], strict=True)
            ]
            for i, t in enumerate(self._targets)
        }


def _stats(
    abs_sum: float, sq_sum: float, smape_sum: float, n: int, scale: float | None
) -> ErrorStats:
    mae = float(abs_sum / n)
    return ErrorStats(
        mae=mae,
        rmse=float(np.sqrt(sq_sum / n)),
        smape=float(100 * smape_sum / n),
        mase=mae / scale if scale else None,
    )


class CoverageAccumulator:
    """How often the actuals fall at or below each forecast quantile, and inside each central
    interval [q_a, q_1-a], per target: a calibrated model gives a and 1 - 2a."""

    def __init__(self, targets: Sequence[str], levels: Sequence[float]) -> None:
        self._targets = tuple(targets)
        self._levels = tuple(levels)
        # central intervals: (lower index, upper index) for each level a < 0.5 whose 1 - a exists
        self._pairs = [
            (i, self._levels.index(round(1 - a, 6)))
            for i, a in enumerate(self._levels)
            if a < 0.5 and round(1 - a, 6) in self._levels
        ]
        self._below = np.zeros((len(targets), len(levels)))
        self._inside = np.zeros((len(targets), len(self._pairs)))
        self._count = 0

    def add(self, quantiles: FloatArray, actual: FloatArray) -> None:
        """quantiles: [n, future, targets, levels]; actual: [n, future, targets]."""
        below = actual[..., None] <= quantiles  # [n, future, targets, levels]
        self._below += below.sum(axis=(0, 1))
        for k, (lo, hi) in enumerate(self._pairs):
            inside = (quantiles[..., lo] <= actual) & (actual <= quantiles[..., hi])
            self._inside[:, k] += inside.sum(axis=(0, 1))
        self._count += actual.shape[0] * actual.shape[1]

    def merge(self, other: "CoverageAccumulator") -> None:
        self._below += other._below
        self._inside += other._inside
        self._count += other._count

    def result(self) -> dict[str, dict[str, float]]:
        """{target: {'q10': share at or below q10, ..., 'q10_q90': share inside [q10, q90]}}."""
        n = max(self._count, 1)
        out: dict[str, dict[str, float]] = {}
        for t, target in enumerate(self._targets):
            row = {level_name(a): float(self._below[t, i] / n) for i, a in enumerate(self._levels)}
            for k, (lo, hi) in enumerate(self._pairs):
                name = f"{level_name(self._levels[lo])}_{level_name(self._levels[hi])}"
                row[name] = float(self._inside[t, k] / n)
            out[target] = row
        return out


def naive_scale(
    chunks: Iterable[Chunk], plan: SplitPlan, target_idx: Sequence[int], targets: Sequence[str]
) -> dict[str, float]:
    """MASE's denominator: mean |y_t - y_(t-1)| over the train rows of every series, per target,
    in the units of `chunks` (feed it unscaled rows). Streams, keeping one row per series."""
    idx = np.asarray(target_idx, dtype=np.intp)
    total, count = np.zeros(len(idx)), 0
    seen: dict[int, int] = {}
    previous: dict[int, np.ndarray] = {}
    pending = {code for code, s in plan.series.items() if len(s.train) > 1}
    for chunk in chunks:
        if not pending:
            break
        for code, values, start in positioned(chunk, seen):
            if code not in pending:
                continue
            mine = values[: max(plan.series[code].train.stop - start, 0), idx].astype(np.float64)
            if len(mine) == 0:
                pending.discard(code)
                continue
            prior = previous.get(code)
            run = mine if prior is None else np.vstack([prior[None], mine])
            total += np.abs(np.diff(run, axis=0)).sum(axis=0)
            count += len(run) - 1
            previous[code] = mine[-1]
    return {t: float(total[i] / count) for i, t in enumerate(targets)} if count else {}


def seasonal_naive(history: FloatArray, future: int, season: int) -> FloatArray:
    """Repeat the last `season` observed rows: history [n, past, T] -> [n, future, T]."""
    past = history.shape[1]
    steps = past - season + np.arange(future) % season
    return history[:, steps]


SEASONS = {3600: 24, 1800: 48, 900: 96, 86400: 7, 7 * 86400: 52}


def infer_season(step_seconds: float | None) -> int | None:
    """The usual season of a sampling step: hourly -> 24 (a day), daily -> 7 (a week), ..."""
    if step_seconds is None:
        return None
    return SEASONS.get(round(step_seconds))


def season_length(configured: int | None, step_seconds: float | None, past: int) -> int | None:
    """The seasonal-naive baseline's season: the configured one, else the usual one of the
    sampling step; None when a season does not fit in the `past` rows a window sees."""
    season = configured or infer_season(step_seconds)
    return season if season and season <= past else None
