import numpy as np
import pytest
import torch

from tests.unit.conftest import tiny_network
from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.adapters.lightning.networks.cells import SLSTMCell, mlstm_parallel, mlstm_recurrent
from thunder.adapters.lightning.networks.losses import pinball_loss
from thunder.adapters.lightning.networks.xlstm import XLSTMNetwork
from thunder.domain.errors import ArtifactCorrupt
from thunder.domain.training import NetworkConfig, TrainingOptions


def config(**kw: object) -> NetworkConfig:
    return tiny_network("xlstm", **kw)


def test_mlstm_parallel_and_recurrent_forms_agree() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(3, 2, 3, 40, 8, generator=g, dtype=torch.float64).unbind(0)
    i_pre, f_pre = (torch.randn(2, 2, 3, 40, generator=g, dtype=torch.float64) * 4).unbind(0)
    torch.testing.assert_close(
        mlstm_parallel(q, k, v, i_pre, f_pre),
        mlstm_recurrent(q, k, v, i_pre, f_pre),
        atol=1e-5,
        rtol=1e-5,
    )


def test_mlstm_parallel_with_only_the_last_queries_gives_the_last_rows() -> None:
    g = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(3, 2, 3, 20, 8, generator=g, dtype=torch.float64).unbind(0)
    i_pre, f_pre = (torch.randn(2, 2, 3, 20, generator=g, dtype=torch.float64) * 4).unbind(0)
    full = mlstm_parallel(q, k, v, i_pre, f_pre)
    for last in (1, 5):
        torch.testing.assert_close(
            mlstm_parallel(q[:, :, -last:], k, v, i_pre, f_pre), full[:, :, -last:]
        )


def slstm_reference(cell: SLSTMCell, wx: torch.Tensor) -> torch.Tensor:
    """The sLSTM equations one sample, one head, one step at a time (no batching tricks)."""
    B, L, _, NH, DH = wx.shape
    out = torch.zeros(B, L, NH, DH, dtype=wx.dtype)
    for b in range(B):
        for hd in range(NH):
            h, c, n, m = (torch.zeros(DH, dtype=wx.dtype) for _ in range(4))
            for t in range(L):
                pre = wx[b, t, :, hd] + (h @ cell.recurrent[hd]).view(4, DH)  # [4, DH]
                z, i_t, f_t, o = pre.unbind(0)
                log_f = torch.nn.functional.logsigmoid(f_t)
                m_new = i_t if t == 0 else torch.maximum(log_f + m, i_t)
                i_g = torch.exp(i_t - m_new)
                f_g = torch.zeros(DH, dtype=wx.dtype) if t == 0 else torch.exp(log_f + m - m_new)
                c = f_g * c + i_g * torch.tanh(z)
                n = f_g * n + i_g
                h = torch.sigmoid(o) * c / n
                m = m_new
                out[b, t, hd] = h
    return out.reshape(B, L, NH * DH)


def test_slstm_cell_matches_the_paper_equations_step_by_step() -> None:
    torch.manual_seed(2)
    cell = SLSTMCell(8, 2).double()
    wx = torch.randn(3, 10, 4, 2, 4, dtype=torch.float64) * 3
    with torch.no_grad():
        torch.testing.assert_close(cell(wx), slstm_reference(cell, wx))


def test_exponential_gates_stay_finite_on_huge_preactivations() -> None:
    q, k, v = torch.randn(3, 1, 2, 64, 4).unbind(0)
    i_pre = torch.full((1, 2, 64), 500.0)  # exp(500) overflows float32 without the stabiliser
    f_pre = torch.full((1, 2, 64), -500.0)
    assert torch.isfinite(mlstm_parallel(q, k, v, i_pre, f_pre)).all()
    cell = SLSTMCell(8, 2)
    assert torch.isfinite(cell(torch.full((1, 64, 4, 2, 4), 300.0))).all()


@pytest.mark.parametrize("pattern", ["m", "s", "ms", "sm"])
def test_forward_and_gradients_are_finite_on_long_and_large_inputs(pattern: str) -> None:
    net = XLSTMNetwork(config(block_pattern=pattern, past_steps=512))
    x = torch.randn(4, 512, 2) * 1e3
    y = net(x)
    assert y.shape == (4, 4, 1, 1)
    assert torch.isfinite(y).all()
    y.pow(2).mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_block_pattern_repeats_to_num_layers() -> None:
    assert config(num_layers=5, block_pattern="ms").blocks() == "msmsm"
    kinds = [type(b).__name__ for b in XLSTMNetwork(config(num_layers=3)).blocks]
    assert kinds == ["MLSTMBlock", "SLSTMBlock", "MLSTMBlock"]


def test_tiny_overfit_on_64_windows() -> None:
    torch.manual_seed(0)
    net = XLSTMNetwork(config(target_inputs=None, dropout=0.0))
    x = torch.randn(64, 16, 2)
    y = x[:, -4:, :1].flip(1) * 0.5  # a learnable function of the inputs
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x)[..., 0], y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.02


def test_checkpoint_round_trip_gives_identical_predictions() -> None:
    f = LightningForecaster(config(), TrainingOptions())
    x = np.random.default_rng(0).normal(size=(5, 16, 2)).astype(np.float32)
    loaded = LightningForecaster.from_bytes(f.to_bytes())
    np.testing.assert_array_equal(loaded.predict(x).point, f.predict(x).point)


@pytest.mark.parametrize("blob", [b"", b"not a checkpoint", b"PK\x03\x04truncated"])
def test_a_corrupt_checkpoint_is_refused(blob: bytes) -> None:
    with pytest.raises(ArtifactCorrupt, match=r"model\.pth: not a thunder model checkpoint"):
        LightningForecaster.from_bytes(blob, "model.pth")


@pytest.mark.parametrize("pattern", ["ms", "mm"])
def test_traced_inference_equals_the_eager_network_for_any_batch(pattern: str) -> None:
    cfg = config(past_steps=10, block_pattern=pattern)
    forecaster = LightningForecaster(cfg, TrainingOptions())
    for n in (1, 37):
        x = np.random.default_rng(n).normal(size=(n, 10, 2)).astype(np.float32)
        with torch.no_grad():
            eager = forecaster._net.eval().forecast(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(forecaster.predict(x).point, eager[..., 0], atol=1e-5)


def test_pinball_loss_is_minimised_by_the_quantiles_of_the_data() -> None:
    y = torch.from_numpy(np.random.default_rng(0).normal(size=4000).astype(np.float32))
    levels = torch.tensor([0.1, 0.5, 0.9])
    pred = torch.zeros(1, 3, requires_grad=True)
    opt = torch.optim.Adam([pred], lr=0.05)
    for _ in range(400):
        opt.zero_grad()
        pinball_loss(pred.expand(4000, 3), y, levels).backward()
        opt.step()
    expected = torch.quantile(y, levels)
    torch.testing.assert_close(pred.detach()[0], expected, atol=0.05, rtol=0)


def test_a_quantile_model_forecasts_sorted_levels_with_the_median_as_point() -> None:
    cfg = config(quantiles=(0.1, 0.5, 0.9))
    forecaster = LightningForecaster(cfg, TrainingOptions())
    x = np.random.default_rng(3).normal(size=(6, 16, 2)).astype(np.float32)
    pred = forecaster.predict(x)
    assert pred.levels == (0.1, 0.5, 0.9)
    assert pred.quantiles is not None and pred.quantiles.shape == (6, 4, 1, 3)
    assert (np.diff(pred.quantiles, axis=-1) >= 0).all()
    np.testing.assert_array_equal(pred.point, pred.quantiles[..., 1])
    loaded = LightningForecaster.from_bytes(forecaster.to_bytes())
    assert loaded.predict(x).levels == (0.1, 0.5, 0.9)


def test_a_quantile_model_learns_a_band_that_covers_the_noise() -> None:
    """y = x_last + N(0, 1): trained with pinball loss, [q10, q90] must cover about 80 %."""
    torch.manual_seed(0)
    levels = (0.1, 0.5, 0.9)
    cfg = config(target_inputs=None, quantiles=levels, future_steps=1, past_steps=4, num_layers=1)
    net = XLSTMNetwork(cfg)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 4, 2, generator=gen)
    y = x[:, -1:, :1] + torch.randn(2048, 1, 1, generator=gen)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for step in range(150):
        batch = slice((step * 256) % 2048, (step * 256) % 2048 + 256)
        opt.zero_grad()
        pinball_loss(net(x[batch]), y[batch], torch.tensor(levels)).backward()
        opt.step()
    with torch.no_grad():
        q = net.eval().forecast(x).sort(dim=-1).values  # [n, 1, 1, 3]
    inside = ((q[..., 0] <= y) & (y <= q[..., 2])).float().mean().item()
    assert 0.7 < inside < 0.9, inside
