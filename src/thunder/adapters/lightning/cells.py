"""The two xLSTM cells of Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory" (arXiv 2405.04517).

Both use exponential input gates with the max-stabiliser m_t, so exp() never overflows; gate
pre-activations and the stabiliser stay in float32 even under mixed precision.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _f32(t: Tensor) -> Tensor:
    """Half-precision inputs are lifted to float32 for the gates and stabiliser; float64 stays."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def mlstm_parallel(q: Tensor, k: Tensor, v: Tensor, i_pre: Tensor, f_pre: Tensor) -> Tensor:
    """mLSTM (matrix memory) in its parallel form, paper appendix eqs. for the stabilised D matrix.

    q, k, v: [B, NH, L, DH]; i_pre, f_pre: [B, NH, L] gate pre-activations. Returns h~: [B, NH, L, DH].

      log D_ts = sum_{j=s+1..t} log f_j + i~_s   (s <= t, else -inf),   log f = logsigmoid(f~)
      m_t      = max_s log D_ts                   (the stabiliser)
      C~_ts    = (q_t . k_s / sqrt(DH)) exp(log D_ts - m_t)
      h~_t     = sum_s C~_ts v_s / max(|sum_s C~_ts|, exp(-m_t))
    """
    dtype = q.dtype
    q, k, v = _f32(q), _f32(k), _f32(v)
    L, DH = q.shape[-2], q.shape[-1]
    log_f = F.logsigmoid(_f32(f_pre))  # [B, NH, L]
    cum = torch.cumsum(log_f, dim=-1)  # [B, NH, L]
    log_d = cum[..., :, None] - cum[..., None, :] + _f32(i_pre)[..., None, :]  # [B, NH, L, L]
    causal = torch.ones(L, L, dtype=torch.bool, device=q.device).tril()  # [L, L]
    log_d = log_d.masked_fill(~causal, float("-inf"))  # [B, NH, L, L]
    m = log_d.amax(dim=-1, keepdim=True)  # [B, NH, L, 1]
    d = torch.exp(log_d - m)  # [B, NH, L, L]
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(DH) * d  # [B, NH, L, L]
    norm = torch.maximum(scores.sum(dim=-1, keepdim=True).abs(), torch.exp(-m))  # [B, NH, L, 1]
    return ((scores / norm) @ v).to(dtype)  # [B, NH, L, L] @ [B, NH, L, DH] -> [B, NH, L, DH]


def mlstm_recurrent(q: Tensor, k: Tensor, v: Tensor, i_pre: Tensor, f_pre: Tensor) -> Tensor:
    """mLSTM step by step (paper eqs. 19-27, stabilised); same signature and result as the parallel form.

    m_t = max(log f_t + m_{t-1}, i~_t);  i'_t = exp(i~_t - m_t);  f'_t = exp(log f_t + m_{t-1} - m_t)
    C_t = f'_t C_{t-1} + i'_t v_t k_t^T;  n_t = f'_t n_{t-1} + i'_t k_t
    h~_t = C_t q_t / max(|n_t . q_t|, exp(-m_t))
    """
    dtype = q.dtype
    q, k, v = _f32(q), _f32(k) / math.sqrt(q.shape[-1]), _f32(v)
    B, NH, L, DH = q.shape
    log_f = F.logsigmoid(_f32(f_pre))  # [B, NH, L]
    i_pre = _f32(i_pre)
    c = q.new_zeros(B, NH, DH, DH)  # [B, NH, DH(v), DH(k)]
    n = q.new_zeros(B, NH, DH)  # [B, NH, DH]
    m = i_pre[..., 0]  # the first step sets the stabiliser: m_1 = i~_1, f'_1 irrelevant (C_0 = 0)
    out = []
    for t in range(L):
        m_new = (
            i_pre[..., t] if t == 0 else torch.maximum(log_f[..., t] + m, i_pre[..., t])
        )  # [B, NH]
        i_g = torch.exp(i_pre[..., t] - m_new)[..., None]  # [B, NH, 1]
        f_g = torch.exp(log_f[..., t] + m - m_new)[..., None]  # [B, NH, 1]
        kt, vt, qt = k[:, :, t], v[:, :, t], q[:, :, t]  # [B, NH, DH] each
        c = (
            f_g[..., None] * c + i_g[..., None] * vt[..., :, None] * kt[..., None, :]
        )  # [B, NH, DH, DH]
        n = f_g * n + i_g * kt  # [B, NH, DH]
        num = (c @ qt[..., None]).squeeze(-1)  # [B, NH, DH]
        den = torch.maximum((n * qt).sum(-1).abs(), torch.exp(-m_new))[..., None]  # [B, NH, 1]
        out.append(num / den)
        m = m_new
    return torch.stack(out, dim=2).to(dtype)  # L x [B, NH, DH] -> [B, NH, L, DH]


class SLSTMCell(nn.Module):
    """sLSTM (scalar memory, paper eqs. 8-17) with head-wise recurrent matrices R (block-diagonal).

      z = tanh(z~), o = sigmoid(o~), log f = logsigmoid(f~), i~ the exponential input gate
      m_t = max(log f_t + m_{t-1}, i~_t);  c_t = f' c_{t-1} + i' z_t;  n_t = f' n_{t-1} + i'
      h_t = o_t * c_t / n_t
    The stabiliser is set on the first step (m_1 = i~_1), which keeps n_t >= 1 for every t.
    """

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        # R: per head, h_head [DH] -> the four gates' recurrent parts [4 * DH]
        self.recurrent = nn.Parameter(torch.zeros(heads, self.head_dim, 4 * self.head_dim))
        nn.init.normal_(self.recurrent, std=1.0 / math.sqrt(self.head_dim))

    def forward(self, wx: Tensor) -> Tensor:
        """wx: [B, L, 4, NH, DH] input parts of the gates in order (z, i, f, o) -> h: [B, L, NH * DH]."""
        B, L = wx.shape[0], wx.shape[1]
        NH, DH = self.heads, self.head_dim
        wx = _f32(wx)
        h = wx.new_zeros(B, NH, DH)  # [B, NH, DH]
        c = wx.new_zeros(B, NH, DH)
        n = wx.new_zeros(B, NH, DH)
        m = wx.new_zeros(B, NH, DH)
        out = []
        for t in range(L):
            rec = torch.einsum("bhd,hde->bhe", h, self.recurrent.to(wx.dtype))  # [B, NH, 4 * DH]
            rec = rec.view(B, NH, 4, DH).transpose(1, 2)  # [B, 4, NH, DH]
            z_pre, i_pre, f_pre, o_pre = (wx[:, t] + rec).unbind(1)  # 4 x [B, NH, DH]
            log_f = F.logsigmoid(f_pre)
            m_new = i_pre if t == 0 else torch.maximum(log_f + m, i_pre)  # [B, NH, DH]
            i_g = torch.exp(i_pre - m_new)
            f_g = torch.zeros_like(i_g) if t == 0 else torch.exp(log_f + m - m_new)
            c = f_g * c + i_g * torch.tanh(z_pre)
            n = f_g * n + i_g
            h = torch.sigmoid(o_pre) * c / n  # [B, NH, DH]
            m = m_new
            out.append(h.reshape(B, NH * DH))
        return torch.stack(out, dim=1)  # L x [B, H] -> [B, L, H]
