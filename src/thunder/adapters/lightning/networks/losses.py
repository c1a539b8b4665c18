"""Training losses over the architectures' distribution parameters [..., P] (plain torch)."""

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from thunder.adapters.lightning.networks.base import WindowNetwork

Loss = Callable[[Tensor, Tensor], Tensor]  # (distribution [B, future, T, P], y [B, future, T])


def pinball_loss(pred: Tensor, y: Tensor, levels: Tensor) -> Tensor:
    """Mean quantile (pinball) loss: pred [..., Q] at `levels` [Q], y [...] the actuals.

    rho_a(e) = max(a e, (a - 1) e) with e = y - pred is minimised by the a-quantile of y.
    """
    e = y[..., None] - pred  # [..., Q]
    return torch.maximum(levels * e, (levels - 1) * e).mean()


def gaussian_nll(pred: Tensor, y: Tensor) -> Tensor:
    """Gaussian negative log-likelihood (constant dropped): pred [..., 2] = (mean, log-variance).

    0.5 (log s^2 + (y - mean)^2 / s^2), minimised by the mean and variance of y.
    """
    mean, log_var = pred[..., 0], pred[..., 1]  # [...] each
    return (0.5 * (log_var + (y - mean) ** 2 * torch.exp(-log_var))).mean()


def mse(pred: Tensor, y: Tensor) -> Tensor:
    return F.mse_loss(pred[..., 0], y)


def loss_for(net: WindowNetwork) -> Loss:
    """The loss that trains `net`'s head: Gaussian NLL, pinball over the levels, or MSE."""
    if net.gaussian:
        return gaussian_nll
    return forecast_loss(net.cfg.quantiles)


def forecast_loss(quantiles: Sequence[float]) -> Loss:
    """The loss of forecasts [..., Q]: pinball over the quantile levels, or MSE of the point."""
    if quantiles:
        levels = torch.tensor(tuple(quantiles))

        def pinball(pred: Tensor, y: Tensor) -> Tensor:
            return pinball_loss(pred, y, levels.to(pred.device))

        return pinball
    return mse
