"""LSTM encoder + multi-head self-attention over its states, with a Gaussian head (mean and
uncertainty): a plain nn.Module, no Lightning.

  x [B, past, F] -> (per-window normalisation) -> LSTM x num_layers -> states h [B, past, H]
    -> multi-head attention, query from the last state, keys/values from every state
    -> + residual, LayerNorm -> Linear -> [B, future, T, 2] (mean, log-variance)
    -> (de-normalise) -> mean, or mean + sigma * z_a per quantile level

Only the last position's attention output is read by the head, so only its query is computed
(the same result as full self-attention, read at the last step). The attention is written out
(q, k, v projections and a softmax) rather than nn.MultiheadAttention, whose fused inference
path neither TorchScript tracing nor the ONNX exporter take.
"""

import math

import torch
from torch import Tensor, nn

from thunder.adapters.lightning.networks.base import WindowNetwork
from thunder.domain.training import NetworkConfig


class LSTMAttentionNetwork(WindowNetwork):
    gaussian = True  # trained with the Gaussian NLL; sigma gives the quantile levels

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__(cfg)
        H = cfg.hidden_size
        self.heads = cfg.num_heads
        dropout = cfg.dropout if cfg.num_layers > 1 else 0.0
        self.lstm = nn.LSTM(cfg.num_features, H, cfg.num_layers, batch_first=True, dropout=dropout)
        self.q, self.k, self.v = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.out = nn.Linear(H, H)
        self.drop = nn.Dropout(cfg.dropout)
        self.norm = nn.LayerNorm(H)
        self.head = nn.Linear(H, cfg.future_steps * cfg.num_targets * self.params_per_output)

    def encode(self, x: Tensor) -> Tensor:
        """x: [B, past, F] normalised inputs -> [B, future * T * 2]."""
        B, L, _ = x.shape
        h, _ = self.lstm(x)  # [B, L, F] -> [B, L, H]
        last = h[:, -1]  # [B, H]
        q = self.q(last).view(B, self.heads, 1, -1)  # [B, NH, 1, DH]
        k = self.k(h).view(B, L, self.heads, -1).transpose(1, 2)  # [B, NH, L, DH]
        v = self.v(h).view(B, L, self.heads, -1).transpose(1, 2)  # [B, NH, L, DH]
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # [B, NH, 1, L]
        ctx = torch.softmax(scores, dim=-1) @ v  # [B, NH, 1, L] @ [B, NH, L, DH] -> [B, NH, 1, DH]
        ctx = ctx.reshape(B, -1)  # [B, H]
        z = self.norm(last + self.drop(self.out(ctx)))  # [B, H]
        y: Tensor = self.head(z)  # [B, H] -> [B, future * T * 2]
        return y
