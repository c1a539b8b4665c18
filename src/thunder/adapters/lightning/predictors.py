"""Predictors: what runs around the network at inference (validation, test, predict).

A predictor prepares the inputs before the network and inverts its output after it; training
never goes through it. The identity is the default. `Standardised` is thunder's fitted scaler as
a predictor: raw inputs are scaled the way training scaled them, and the network's forecast comes
back in the data's own units, so `predict_step` of a loaded forecasting model returns values a
user can read.
"""

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from thunder.domain.errors import ConfigError


@runtime_checkable
class Predictor(Protocol):
    def prepare(self, x: Tensor) -> Tensor:
        """The network's input made from the loader's (on the loader's device)."""
        ...

    def invert(self, y: Tensor) -> Tensor:
        """The network's output taken back to the target's units."""
        ...


class Identity:
    """Runs the network on the batch as the loader gave it and returns its output unchanged."""

    def prepare(self, x: Tensor) -> Tensor:
        return x

    def invert(self, y: Tensor) -> Tensor:
        return y

    def __repr__(self) -> str:
        return "Identity()"


class Standardised:
    """Inputs scaled as (x - mean) / scale per feature; the forecast restored as
    y * scale + mean per target (the last-but-one axis of [B, future, T, Q]).

    `head` maps the network's raw output to forecasts first (thunder's networks emit the
    parameters their loss reads; `WindowNetwork.forecast_from` turns them into quantiles).
    """

    def __init__(
        self,
        input_mean: Sequence[float],
        input_scale: Sequence[float],
        target_mean: Sequence[float],
        target_scale: Sequence[float],
        head: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        if len(input_mean) != len(input_scale) or len(target_mean) != len(target_scale):
            raise ConfigError(
                "Standardised: each mean needs a scale of the same length", field="scale"
            )
        self._x = torch.tensor(input_mean), torch.tensor(input_scale)  # [F] each
        self._y = torch.tensor(target_mean), torch.tensor(target_scale)  # [T] each
        self._head = head

    def prepare(self, x: Tensor) -> Tensor:
        mean, scale = (t.to(x) for t in self._x)
        return (x - mean) / scale  # [B, past, F]

    def invert(self, y: Tensor) -> Tensor:
        forecast = self._head(y) if self._head is not None else y  # [B, future, T, Q]
        mean, scale = (t.to(forecast)[:, None] for t in self._y)  # [T, 1] each
        return forecast * scale + mean  # [B, future, T, Q], the data's units
