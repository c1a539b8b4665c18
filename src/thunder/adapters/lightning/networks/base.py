"""What every architecture shares: per-window normalisation and the output head.

  x [B, past, F] -> (remove each window's level and scale, RevIN-style) -> encode (the
    architecture) -> [B, future, T, P] distribution parameters -> (restore level and scale):
    forward, what the loss reads -> forecast [B, future, T, Q]: forecast_from

P is what the loss reads: Q values (one per quantile level, or 1: the point forecast), or for a
Gaussian head 2 (mean, log-variance), whose forecast is the mean, or mean + sigma * z_a per
quantile level a. Architectures subclass WindowNetwork and implement `encode` only, so the
normalisation exists once and their state-dict keys stay their own (old xLSTM checkpoints load).
"""

from statistics import NormalDist

import torch
from torch import Tensor, nn

from thunder.domain.training import NetworkConfig


class WindowNetwork(nn.Module):
    z: Tensor  # [Q] standard-normal quantiles of the levels
    gaussian = False  # an architecture with a mean + variance head sets True

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self._target_idx = list(cfg.target_inputs) if cfg.target_inputs is not None else []
        # z_a = Phi^-1(a) of each level: the Gaussian head's quantiles (not saved: derived)
        z = [NormalDist().inv_cdf(a) for a in cfg.quantiles or (0.5,)]
        self.register_buffer("z", torch.tensor(z), persistent=False)  # [Q]

    @property
    def params_per_output(self) -> int:
        """P: the values encode() emits per (future step, target)."""
        return 2 if self.gaussian else self.cfg.outputs

    def encode(self, x: Tensor) -> Tensor:
        """x: [B, past, F] normalised inputs -> [B, future * T * P]."""
        raise NotImplementedError

    def parameter_groups(self) -> list[list[nn.Parameter]]:
        """Parameters by optimiser: one group trains with one optimiser (automatic optimisation);
        an architecture that wants several optimisers returns several groups."""
        return [list(self.parameters())]

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, past, F] scaled inputs -> [B, future, T, P] in scaled units (what the loss reads)."""
        B = x.shape[0]
        revin = self.cfg.target_inputs is not None
        if revin:
            mu = x.mean(dim=1, keepdim=True).detach()  # [B, 1, F]
            sd = (x.var(dim=1, keepdim=True, unbiased=False) + 1e-5).sqrt().detach()  # [B, 1, F]
            x = (x - mu) / sd  # [B, past, F]
        y = self.encode(x)  # [B, past, F] -> [B, future * T * P]
        y = y.view(B, self.cfg.future_steps, self.cfg.num_targets, -1)  # [B, future, T, P]
        if self.gaussian:  # keep exp(log-variance) finite in float32
            y = torch.cat([y[..., :1], y[..., 1:].clamp(-15.0, 15.0)], dim=-1)  # [B, future, T, 2]
        if revin:
            m = mu[:, :, self._target_idx, None]  # [B, 1, T, 1]
            s = sd[:, :, self._target_idx, None]  # [B, 1, T, 1]
            if self.gaussian:  # mean * s + m; log-variance + 2 log s
                y = torch.cat([y[..., :1] * s + m, y[..., 1:] + 2 * s.log()], dim=-1)
            else:  # s > 0, so the map is monotone and quantiles stay quantiles
                y = y * s + m  # [B, future, T, P], scaled units
        return y

    def forecast_from(self, y: Tensor) -> Tensor:
        """[B, future, T, P] parameters -> [B, future, T, Q] forecasts, Q = cfg.outputs (one per
        quantile level, or 1: the point forecast)."""
        if not self.gaussian:
            return y
        mean, log_var = y[..., :1], y[..., 1:]  # [B, future, T, 1] each
        if not self.cfg.quantiles:
            return mean
        return mean + torch.exp(0.5 * log_var) * self.z  # [B, future, T, Q]

    def forecast(self, x: Tensor) -> Tensor:
        """x: [B, past, F] scaled inputs -> [B, future, T, Q] scaled forecasts."""
        return self.forecast_from(self(x))


class Forecasting(nn.Module):
    """A network's forecast as its forward pass: what tracing and ONNX export run."""

    def __init__(self, network: WindowNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: Tensor) -> Tensor:
        return self.network.forecast(x)  # [B, past, F] -> [B, future, T, Q]
