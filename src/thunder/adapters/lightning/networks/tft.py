"""Temporal Fusion Transformer essentials (Lim et al. 2021, "Temporal Fusion Transformers for
interpretable multi-horizon time series forecasting", IJF 37(4)): a plain nn.Module, no Lightning.

  x [B, past, F] -> (per-window normalisation) -> variable selection (eqs. 6-8) [B, past, H]
    -> LSTM encoder; learned future-step embeddings -> LSTM decoder from the encoder's state
    -> gated skip + LayerNorm (eq. 17) -> enrichment GRN (eq. 18, no static context)
    -> interpretable multi-head attention, future queries over every position, causal
       (eqs. 13-16) -> gated add & norm (eq. 19) -> position-wise GRN (eq. 21)
    -> gated skip over the LSTM layer (eq. 22) -> Linear per future step (eq. 23)
    -> [B, future, T, Q] -> (de-normalise)

thunder has neither static covariates nor known future inputs, so the static encoders and
contexts (c_s, c_e, c_c, c_h) are absent and the decoder's inputs are one learned embedding per
future step. The variable-selection networks form their own parameter group: the module trains
them with their own optimiser (manual optimisation, see module.py).
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from thunder.adapters.lightning.networks.base import WindowNetwork
from thunder.domain.training import NetworkConfig


class GLU(nn.Module):
    """Gated linear unit, eq. 5: GLU(g) = sigmoid(W4 g + b4) * (W5 g + b5)."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d_in, 2 * d_out)

    def forward(self, g: Tensor) -> Tensor:
        gate, value = self.lin(g).chunk(2, dim=-1)  # [..., d_in] -> 2 x [..., d_out]
        out: Tensor = torch.sigmoid(gate) * value  # [..., d_out]
        return out


class GatedAddNorm(nn.Module):
    """LayerNorm(skip + GLU(dropout(x))): the gated skip of eqs. 4, 17, 19 and 22."""

    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.drop, self.glu, self.norm = nn.Dropout(dropout), GLU(d, d), nn.LayerNorm(d)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        out: Tensor = self.norm(skip + self.glu(self.drop(x)))  # [..., d]
        return out


class GRN(nn.Module):
    """Gated residual network, eqs. 2-4 without the context c:
    eta2 = ELU(W2 a + b2);  eta1 = W1 eta2 + b1;  GRN(a) = LayerNorm(a + GLU(eta1))."""

    def __init__(self, d_in: int, d_hidden: int, d_out: int, dropout: float) -> None:
        super().__init__()
        self.skip = nn.Linear(d_in, d_out) if d_in != d_out else nn.Identity()
        self.w2 = nn.Linear(d_in, d_hidden)
        self.w1 = nn.Linear(d_hidden, d_out)
        self.gate = GatedAddNorm(d_out, dropout)

    def forward(self, a: Tensor) -> Tensor:
        eta1 = self.w1(F.elu(self.w2(a)))  # [..., d_in] -> [..., d_hidden] -> [..., d_out]
        out: Tensor = self.gate(eta1, self.skip(a))  # [..., d_out]
        return out


class VariableSelection(nn.Module):
    """Eqs. 6-8: each input variable j embedded as xi_j [H] and refined by its own GRN;
    weights v = Softmax(GRN_v(Xi)) over the flattened embeddings; output sum_j v_j GRN_j(xi_j)."""

    def __init__(self, n_vars: int, d: int, dropout: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(n_vars, d) * 0.1)  # per-variable linear embedding
        self.b = nn.Parameter(torch.zeros(n_vars, d))
        self.weights = GRN(n_vars * d, d, n_vars, dropout)
        self.grns = nn.ModuleList(GRN(d, d, d, dropout) for _ in range(n_vars))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: [B, L, n] -> (selected [B, L, H], variable weights [B, L, n])."""
        xi = x[..., None] * self.w + self.b  # [B, L, n, 1] -> [B, L, n, H]
        v = torch.softmax(self.weights(xi.flatten(-2)), dim=-1)  # [B, L, n * H] -> [B, L, n]
        refined = torch.stack(
            [grn(xi[..., j, :]) for j, grn in enumerate(self.grns)], dim=-2
        )  # [B, L, n, H]
        return (v[..., None] * refined).sum(dim=-2), v  # [B, L, H], [B, L, n]


class InterpretableAttention(nn.Module):
    """Eqs. 13-16: per-head queries and keys, one value projection shared by the heads;
    H~ = mean_h Softmax(Q W_Q^h (K W_K^h)^T / sqrt(d_attn)) V W_V, output H~ W_H."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.d_attn = heads, d // heads
        self.q = nn.Linear(d, heads * self.d_attn)
        self.k = nn.Linear(d, heads * self.d_attn)
        self.v = nn.Linear(d, self.d_attn)  # shared across heads
        self.out = nn.Linear(self.d_attn, d)  # W_H
        self.drop = nn.Dropout(dropout)

    def forward(self, queries: Tensor, keys: Tensor, mask: Tensor) -> Tensor:
        """queries [B, Lq, H], keys [B, L, H], mask [Lq, L] (True: may attend) -> [B, Lq, H]."""
        B, Lq, _ = queries.shape
        L = keys.shape[1]
        q = self.q(queries).view(B, Lq, self.heads, -1).transpose(1, 2)  # [B, NH, Lq, DA]
        k = self.k(keys).view(B, L, self.heads, -1).transpose(1, 2)  # [B, NH, L, DA]
        v = self.v(keys)  # [B, L, DA]
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_attn)  # [B, NH, Lq, L]
        scores = scores.masked_fill(~mask, float("-inf"))  # [B, NH, Lq, L]
        a = self.drop(torch.softmax(scores, dim=-1)).mean(dim=1)  # [B, NH, Lq, L] -> [B, Lq, L]
        out: Tensor = self.out(a @ v)  # [B, Lq, L] @ [B, L, DA] -> [B, Lq, DA] -> [B, Lq, H]
        return out


class TFTNetwork(WindowNetwork):
    causal: Tensor  # [future, past + future], True where a future step may attend

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__(cfg)
        H, p = cfg.hidden_size, cfg.dropout
        self.select = VariableSelection(cfg.num_features, H, p)
        self.future = nn.Parameter(torch.randn(cfg.future_steps, H) * 0.1)  # decoder inputs
        lstm_drop = p if cfg.num_layers > 1 else 0.0
        self.encoder = nn.LSTM(H, H, cfg.num_layers, batch_first=True, dropout=lstm_drop)
        self.decoder = nn.LSTM(H, H, cfg.num_layers, batch_first=True, dropout=lstm_drop)
        self.lstm_gate = GatedAddNorm(H, p)  # eq. 17
        self.enrich = GRN(H, H, H, p)  # eq. 18
        self.attention = InterpretableAttention(H, cfg.num_heads, p)
        self.attention_gate = GatedAddNorm(H, p)  # eq. 19
        self.positionwise = GRN(H, H, H, p)  # eq. 21
        self.output_gate = GatedAddNorm(H, 0.0)  # eq. 22
        self.head = nn.Linear(H, cfg.num_targets * self.params_per_output)  # eq. 23
        P, Fu = cfg.past_steps, cfg.future_steps
        causal = torch.ones(P + Fu, P + Fu, dtype=torch.bool).tril()[P:]  # [future, past+future]
        self.register_buffer("causal", causal, persistent=False)

    def parameter_groups(self) -> list[list[nn.Parameter]]:
        """Two optimisers: the variable-selection networks, and everything else."""
        selection = list(self.select.parameters())
        chosen = {id(p) for p in selection}
        return [selection, [p for p in self.parameters() if id(p) not in chosen]]

    def encode(self, x: Tensor) -> Tensor:
        """x: [B, past, F] normalised inputs -> [B, future * T * Q]."""
        B = x.shape[0]
        xi, _ = self.select(x)  # [B, past, F] -> [B, past, H]
        fut = self.future.expand(B, -1, -1)  # [future, H] -> [B, future, H]
        enc, state = self.encoder(xi)  # [B, past, H]
        dec, _ = self.decoder(fut, state)  # [B, future, H]
        phi = self.lstm_gate(
            torch.cat([enc, dec], dim=1), torch.cat([xi, fut], dim=1)
        )  # [B, past + future, H]
        theta = self.enrich(phi)  # [B, past + future, H]
        Fu = self.cfg.future_steps
        beta = self.attention(theta[:, -Fu:], theta, self.causal)  # [B, future, H]
        delta = self.attention_gate(beta, theta[:, -Fu:])  # [B, future, H]
        psi = self.output_gate(self.positionwise(delta), phi[:, -Fu:])  # [B, future, H]
        y: Tensor = self.head(psi)  # [B, future, H] -> [B, future, T * Q]
        return y.reshape(B, -1)  # [B, future * T * Q]
