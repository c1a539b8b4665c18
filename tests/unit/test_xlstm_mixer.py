"""xlstm_mixer: the closed-form start of its time mixing, and its size at long horizons."""

import numpy as np
import pytest
import torch

from tests.unit.conftest import tiny_network
from thunder.adapters.lightning.closed_form import RIDGES, NormalEquations, solve
from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.adapters.lightning.networks.xlstm_mixer import XLSTMMixerNetwork
from thunder.adapters.onnx_model import OnnxModel
from thunder.domain.errors import ConfigError
from thunder.domain.training import Optimisation, TrainingOptions
from thunder.domain.values import FitResult, WindowBatch


def trend_windows(n: int, seed: int, past: int = 16, future: int = 4) -> list[WindowBatch]:
    """Two channels, both targets: noisy lines whose futures continue them."""
    rng = np.random.default_rng(seed)
    t = np.arange(past + future, dtype=np.float32)
    slope = rng.normal(size=(n, 1, 2)).astype(np.float32)
    level = rng.normal(size=(n, 1, 2)).astype(np.float32)
    noise = rng.normal(0, 0.05, (n, past + future, 2))
    w = (level + slope * t[None, :, None] * 0.1 + noise).astype(np.float32)
    return [WindowBatch(x=w[:, :past], y=w[:, past:], history=w[:, :past])]


def mixer(**kw: object) -> XLSTMMixerNetwork:
    net = XLSTMMixerNetwork(tiny_network("xlstm_mixer", num_targets=2, target_inputs=(0, 1), **kw))
    return net


def test_untrained_it_repeats_the_last_value() -> None:
    x = torch.randn(3, 16, 2)
    y = mixer()(x)  # [3, 4, 2, 1]
    torch.testing.assert_close(y[..., 0], x[:, -1:, :].expand(3, 4, 2))


def test_the_normal_equations_give_numpys_least_squares() -> None:
    batch = trend_windows(200, 0)[0]
    eq = NormalEquations.empty(16, 4)
    eq.add(torch.from_numpy(batch.x), torch.from_numpy(batch.y), [0, 1])
    w, ridge = solve(eq, eq)
    assert ridge == RIDGES[0]  # scored on the same rows, plain least squares fits them best
    a = np.concatenate([batch.x - batch.x[:, -1:], np.ones((200, 1, 2))], axis=1)  # [n, 17, 2]
    a = a.transpose(0, 2, 1).reshape(-1, 17)
    t = (batch.y - batch.x[:, -1:]).transpose(0, 2, 1).reshape(-1, 4)
    want = np.linalg.lstsq(a, t, rcond=None)[0]
    np.testing.assert_allclose(w.numpy(), want, atol=1e-4)
    residual = a @ want - t
    assert abs(eq.mse(w) - float(np.mean(residual**2))) < 1e-9


def fitted(lr: float) -> tuple[LightningForecaster, FitResult, list[WindowBatch]]:
    opts = TrainingOptions(
        epochs=2, batch_size=32, optimisation=Optimisation(learning_rate=lr), seed=0
    )
    forecaster = LightningForecaster(
        tiny_network("xlstm_mixer", num_targets=2, target_inputs=(0, 1)), opts
    )
    train, val = trend_windows(256, 0), trend_windows(64, 1)
    return forecaster, forecaster.fit(train, val, train_windows=256), val


def test_a_fit_starts_from_the_closed_form() -> None:
    forecaster, fit, val = fitted(1e-3)
    net = forecaster._net
    assert isinstance(net, XLSTMMixerNetwork)
    assert net.time_mix.weight.abs().sum() > 0  # solved, not the zero start
    assert not net.time_mix.weight.requires_grad
    x, y = torch.from_numpy(val[0].x), torch.from_numpy(val[0].y)
    with torch.no_grad():
        published = torch.nn.functional.mse_loss(net(x)[..., 0], y).item()
    assert fit.best_val_loss is not None and abs(published - fit.best_val_loss) < 1e-4
    naive = torch.nn.functional.mse_loss(x[:, -1:, :].expand_as(y), y).item()
    assert published < 0.2 * naive  # the lines are continued, not flattened


def test_a_run_that_only_gets_worse_publishes_the_closed_form_start() -> None:
    forecaster, fit, val = fitted(10.0)  # a rate that wrecks every epoch
    net = forecaster._net
    assert isinstance(net, XLSTMMixerNetwork)
    assert torch.count_nonzero(net.head.weight) == 0  # the correction as it started: none
    x, y = torch.from_numpy(val[0].x), torch.from_numpy(val[0].y)
    with torch.no_grad():
        start = torch.nn.functional.mse_loss(net(x)[..., 0], y).item()
    assert fit.best_val_loss == pytest.approx(start, rel=1e-4)


def test_without_target_inputs_the_inputs_levels_reach_the_forecast() -> None:
    torch.manual_seed(0)
    net = XLSTMMixerNetwork(tiny_network("xlstm_mixer", target_inputs=None)).eval()
    torch.nn.init.normal_(net.head.weight, std=0.1)
    x = torch.randn(4, 16, 2)
    with torch.no_grad():
        moved = net(x + torch.tensor([0.0, 3.0])) - net(x)  # the covariate 3 higher
    assert moved.abs().max() > 1e-2


def test_find_lr_is_refused_before_any_data_is_read() -> None:
    opts = TrainingOptions(find_lr=True)
    with pytest.raises(ConfigError, match="find_lr does not apply to xlstm_mixer"):
        LightningForecaster(tiny_network("xlstm_mixer"), opts)


def test_onnx_and_torchscript_match_at_context_512_and_horizon_720() -> None:
    cfg = tiny_network(
        "xlstm_mixer",
        num_features=7,
        num_targets=7,
        target_inputs=tuple(range(7)),
        past_steps=512,
        future_steps=720,
        hidden_size=32,
        num_layers=1,
    )
    forecaster = LightningForecaster(cfg, TrainingOptions())
    net = forecaster._net
    assert isinstance(net, XLSTMMixerNetwork)
    rng = np.random.default_rng(0)
    net.set_time_mix(torch.randn(720, 512) * 0.01, torch.randn(720) * 0.01)
    torch.nn.init.normal_(net.head.weight, std=0.01)  # a correction that is not zero
    x = rng.normal(size=(3, 512, 7)).astype(np.float32)
    with torch.no_grad():
        want = net.eval().forecast(torch.from_numpy(x)).numpy()[..., 0]  # [3, 720, 7]
    onnx = OnnxModel.from_bytes(forecaster.to_onnx())
    for got in (forecaster.predict(x), onnx.predict(x)):
        assert got.point.shape == (3, 720, 7)
        np.testing.assert_allclose(got.point, want, atol=1e-4)
