"""Streaming forecast errors, accumulated batch by batch so the test split never sits in memory."""

from collections.abc import Sequence

import numpy as np

from thunder.domain.values import ErrorStats, FloatArray


class ErrorAccumulator:
    """Sums |e| and e^2 per target over every (window, step) seen, in float64."""

    def __init__(self, targets: Sequence[str]) -> None:
        self._targets = tuple(targets)
        self._abs = np.zeros(len(targets))
        self._sq = np.zeros(len(targets))
        self._count = 0

    def add(self, forecast: FloatArray, actual: FloatArray) -> None:
        """forecast, actual: [n, future, targets] in the data's own units."""
        err = forecast.astype(np.float64) - actual.astype(np.float64)  # [n, future, targets]
        self._abs += np.abs(err).sum(axis=(0, 1))
        self._sq += np.square(err).sum(axis=(0, 1))
        self._count += err.shape[0] * err.shape[1]

    @property
    def count(self) -> int:
        return self._count

    def result(self) -> dict[str, ErrorStats]:
        n = max(self._count, 1)
        return {
            t: ErrorStats(mae=float(self._abs[i] / n), rmse=float(np.sqrt(self._sq[i] / n)))
            for i, t in enumerate(self._targets)
        }
