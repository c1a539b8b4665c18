"""The closed-form linear baseline of the long-horizon protocol: NLinear fitted by least squares.

Each window's last input value is subtracted from its inputs and targets, and one linear map
(context -> horizon, plus an intercept) shared by every channel is fitted on all training
windows (Zeng et al., "Are Transformers Effective for Time Series Forecasting?", AAAI 2023,
solved in closed form instead of by gradient descent). The normal equations are accumulated one
channel at a time over strided views, so memory is one channel's windows, not the data set's.
"""

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from thunder.domain.values import FloatArray

# the centred inputs always have a zero in their last column: a tiny ridge keeps the normal
# equations solvable without moving the fit (1e-6 against sums over thousands of windows)
RIDGE = 1e-6


@dataclass(frozen=True)
class Errors:
    """Squared and absolute error sums and their count, to be pooled over channels."""

    squared: float
    absolute: float
    count: int

    @property
    def mse(self) -> float:
        return self.squared / self.count

    @property
    def mae(self) -> float:
        return self.absolute / self.count


def _windows(series: FloatArray, origins: range, context: int, horizon: int) -> FloatArray:
    """[n, context + horizon] windows of one channel whose targets start at each origin."""
    view = sliding_window_view(series, context + horizon)
    return view[origins.start - context : origins.stop - context : origins.step]


def _centred(windows: FloatArray, context: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Inputs with an intercept column, targets, both minus the last input value."""
    last = windows[:, context - 1 : context]
    x = np.hstack([windows[:, :context] - last, np.ones((len(windows), 1))])
    return x, windows[:, context:] - last, last


def fit(z: FloatArray, train: range, context: int, horizon: int) -> FloatArray:
    """z: [rows, channels] scaled values; train: the origins of the training windows.
    Returns W [context + 1, horizon]."""
    gram = np.zeros((context + 1, context + 1))
    cross = np.zeros((context + 1, horizon))
    for c in range(z.shape[1]):
        x, y, _ = _centred(_windows(z[:, c], train, context, horizon), context)
        gram += x.T @ x
        cross += x.T @ y
    return np.linalg.solve(gram + RIDGE * np.eye(context + 1), cross)


def score(w: FloatArray, z: FloatArray, origins: range, context: int, horizon: int) -> Errors:
    """Errors of the fitted map over every window whose targets start at `origins`."""
    squared = absolute = 0.0
    count = 0
    for c in range(z.shape[1]):
        x, y, _ = _centred(_windows(z[:, c], origins, context, horizon), context)
        err = x @ w - y  # the last value cancels from forecast and target alike
        squared += float(np.square(err).sum())
        absolute += float(np.abs(err).sum())
        count += err.size
    return Errors(squared, absolute, count)
