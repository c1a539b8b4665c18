"""A plain stacked LSTM, the baseline: a plain nn.Module, no Lightning.

x [B, past, F] -> (per-window normalisation) -> LSTM x num_layers -> last state
  -> Linear -> [B, future, T, Q] -> (de-normalise)
"""

from torch import Tensor, nn

from thunder.adapters.lightning.networks.base import WindowNetwork
from thunder.domain.training import NetworkConfig


class LSTMNetwork(WindowNetwork):
    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__(cfg)
        H = cfg.hidden_size
        dropout = cfg.dropout if cfg.num_layers > 1 else 0.0  # between layers only
        self.lstm = nn.LSTM(cfg.num_features, H, cfg.num_layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(H, cfg.future_steps * cfg.num_targets * self.params_per_output)

    def encode(self, x: Tensor) -> Tensor:
        """x: [B, past, F] normalised inputs -> [B, future * T * Q]."""
        h, _ = self.lstm(x)  # [B, past, F] -> [B, past, H]
        y: Tensor = self.head(h[:, -1])  # [B, H] -> [B, future * T * Q]
        return y
