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

    k, v: [B, NH, L, DH]; i_pre, f_pre: [B, NH, L] gate pre-activations; q: [B, NH, Lq, DH], the
    queries of the last Lq <= L positions (Lq = 1 when only the final state is wanted).
    Returns h~ for those positions: [B, NH, Lq, DH].

      log D_ts = sum_{j=s+1..t} log f_j + i~_s   (s <= t, else -inf),   log f = logsigmoid(f~)
      m_t      = max_s log D_ts                   (the stabiliser)
      C~_ts    = (q_t . k_s / sqrt(DH)) exp(log D_ts - m_t)
      h~_t     = sum_s C~_ts v_s / max(|sum_s C~_ts|, exp(-m_t))
    """
    dtype = q.dtype
    q, k, v = _f32(q), _f32(k), _f32(v)
    Lq, L, DH = q.shape[-2], k.shape[-2], q.shape[-1]
    log_f = F.logsigmoid(_f32(f_pre))  # [B, NH, L]
    cum = torch.cumsum(log_f, dim=-1)  # [B, NH, L]
    log_d = (
        cum[..., L - Lq :, None] - cum[..., None, :] + _f32(i_pre)[..., None, :]
    )  # [B, NH, Lq, L]
    causal = torch.ones(L, L, dtype=torch.bool, device=q.device).tril()[L - Lq :]  # [Lq, L]
    log_d = log_d.masked_fill(~causal, float("-inf"))  # [B, NH, Lq, L]
    m = log_d.amax(dim=-1, keepdim=True)  # [B, NH, Lq, 1]
    d = torch.exp(log_d - m)  # [B, NH, Lq, L]
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(DH) * d  # [B, NH, Lq, L]
    norm = torch.maximum(scores.sum(dim=-1, keepdim=True).abs(), torch.exp(-m))  # [B, NH, Lq, 1]
    return ((scores / norm) @ v).to(dtype)  # [B, NH, Lq, L] @ [B, NH, L, DH] -> [B, NH, Lq, DH]


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
        # time-major and head-major once, so each step is one baddbmm: pre = wx_t + h R
        wx = _f32(wx).permute(1, 3, 0, 2, 4).reshape(L, NH, B, 4 * DH)  # [L, NH, B, 4 * DH]
        r = self.recurrent.to(wx.dtype)  # [NH, DH, 4 * DH]
        h = wx.new_zeros(NH, B, DH)  # [NH, B, DH]
        c = wx.new_zeros(NH, B, DH)
        n = wx.new_zeros(NH, B, DH)
        m = wx.new_zeros(NH, B, DH)
        out = []
        # unbind once: indexing wx[t] in the loop would give each step's backward a zero-filled
        # gradient of all of wx (24 fills of the whole input, ~12 % of a training step)
        steps = wx.unbind(0)  # L x [NH, B, 4 * DH]
        for t in range(L):
            z_pre, i_pre, f_pre, o_pre = torch.baddbmm(steps[t], h, r).chunk(4, dim=-1)
            if t == 0:  # m_1 = i~_1, so i' = 1 and f' = 0: c_1 = z_1, n_1 = 1
                c, n, m = torch.tanh(z_pre), torch.ones_like(c), i_pre
            else:
                log_fm = F.logsigmoid(f_pre) + m  # log f_t + m_{t-1}
                m_new = torch.maximum(log_fm, i_pre)
                i_g, f_g = torch.exp(i_pre - m_new), torch.exp(log_fm - m_new)
                c = torch.addcmul(f_g * c, i_g, torch.tanh(z_pre))
                n = torch.addcmul(i_g, f_g, n)
                m = m_new
            h = torch.sigmoid(o_pre) * c / n  # [NH, B, DH]
            out.append(h)
        hs = torch.stack(out)  # L x [NH, B, DH] -> [L, NH, B, DH]
        return hs.permute(2, 0, 1, 3).reshape(B, L, NH * DH)  # [B, L, H]
