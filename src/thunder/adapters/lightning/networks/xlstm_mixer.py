"""xLSTM-Mixer: a linear forecast over time, refined by sLSTM blocks that run over the variates.

  x [B, past, F] -> each channel minus its last value -> one Linear(past -> future) shared by
    the channels, plus the last value back: the NLinear forecast [B, F, future] (time mixing)
  -> per variate, its input window and its forecast, z-scored with the window's mean and std,
     embedded to a token [B, F, H]; memory tokens first. Targets that are not inputs get one
     query token each, whose output is the forecast itself: then the tokens are not z-scored,
     so the inputs' levels reach it
  -> sLSTM blocks over the tokens in two views, variate order as given and reversed (variate
     mixing), concatenated -> Linear -> a correction [B, F, future, P] in window units
  -> forecast = NLinear forecast + correction * window std, at the targets' positions

After Kraus et al., "xLSTM-Mixer: Multivariate Time Series Forecasting by Mixing via Scalar
Memories" (2024). The time-mixing weights do not train by gradient: they are solved by least
squares over the training windows before the first step (closed_form.py), and the correction's
output layer starts at zero, so training starts from the closed-form linear forecast and the
recurrent path learns only what it adds. The sLSTM runs over a handful of variate tokens, not
over hundreds of time steps, so a context of 720 costs one matrix product, not 720 steps.
"""

import torch
from torch import Tensor, nn

from thunder.adapters.lightning.networks.base import WindowNetwork
from thunder.adapters.lightning.networks.xlstm import SLSTMBlock
from thunder.domain.training import NetworkConfig

MEMORY_TOKENS = 2


class XLSTMMixerNetwork(WindowNetwork):
    """Its own forward: last-value centring for the linear path and window scaling for the
    tokens, in place of WindowNetwork's normalisation around `encode`."""

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__(cfg)
        L, H, D = cfg.past_steps, cfg.future_steps, cfg.hidden_size
        # zero: until the closed form sets it, the linear forecast repeats the last value
        self.time_mix = nn.Linear(L, H)
        nn.init.zeros_(self.time_mix.weight)
        nn.init.zeros_(self.time_mix.bias)
        self.time_mix.requires_grad_(False)
        self.embed = nn.Linear(L + H, D)
        self.memory = nn.Parameter(torch.randn(MEMORY_TOKENS, D) * 0.02)
        queries = cfg.num_targets if cfg.target_inputs is None else 0
        self.queries = nn.Parameter(torch.randn(queries, D) * 0.02)
        self.blocks = nn.ModuleList(
            SLSTMBlock(D, cfg.num_heads, cfg.dropout) for _ in range(cfg.num_layers)
        )
        self.norm = nn.LayerNorm(D)
        self.head = nn.Linear(2 * D, H * self.params_per_output)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def parameter_groups(self) -> list[list[nn.Parameter]]:
        return [[p for p in self.parameters() if p.requires_grad]]

    def linear_forecast(self, series: Tensor) -> Tensor:
        """series [B, C, past] -> the time-mixing forecast [B, C, future]."""
        last = series[..., -1:]  # [B, C, 1]
        out: Tensor = self.time_mix(series - last) + last
        return out

    def set_time_mix(self, weight: Tensor, bias: Tensor) -> None:
        """The closed-form solution: weight [future, past], bias [future]."""
        with torch.no_grad():
            self.time_mix.weight.copy_(weight)
            self.time_mix.bias.copy_(bias)

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, past, F] scaled inputs -> [B, future, T, P] in scaled units."""
        B, H, P = x.shape[0], self.cfg.future_steps, self.params_per_output
        series = x.transpose(1, 2)  # [B, F, past]
        linear = self.linear_forecast(series)  # [B, F, H]
        if self.cfg.target_inputs is None:  # the inputs' level and scale carry the forecast
            mu, sd = torch.zeros_like(series[..., :1]), torch.ones_like(series[..., :1])
        else:  # the linear path carries them: the tokens see each window's shape
            mu = series.mean(dim=-1, keepdim=True).detach()  # [B, F, 1]
            sd = (series.var(dim=-1, keepdim=True, unbiased=False) + 1e-5).sqrt().detach()
        tokens = self.embed((torch.cat([series, linear], dim=-1) - mu) / sd)  # [B, F, D]
        M = self.memory.shape[0]
        tokens = torch.cat(
            [self.memory.expand(B, -1, -1), tokens, self.queries.expand(B, -1, -1)], dim=1
        )  # [B, M + F + Tq, D]
        mixed = torch.cat([self._mix(tokens), self._mix(tokens.flip(1)).flip(1)], dim=-1)
        correction: Tensor = self.head(mixed[:, M:]).view(B, -1, H, P)  # [B, F + Tq, H, P]
        if self.cfg.target_inputs is None:  # the query tokens forecast, in scaled units
            y = correction[:, -self.cfg.num_targets :]  # [B, T, H, P]
        else:
            idx = list(self.cfg.target_inputs)
            y = linear[:, idx, :, None] + correction[:, idx] * sd[:, idx, :, None]
        return y.transpose(1, 2)  # [B, H, T, P]

    def _mix(self, tokens: Tensor) -> Tensor:
        block: nn.Module
        for block in self.blocks:
            tokens = block(tokens)  # [B, N, D]
        out: Tensor = self.norm(tokens)  # [B, N, D]
        return out
