"""One conformance harness over every architecture of the model zoo (model_config.architecture):
the shape contract, finite values, a tiny overfit, checkpoint round trips and exported parity."""

import io

import numpy as np
import pytest
import torch

from tests.unit.conftest import tiny_network
from thunder.adapters.lightning.checkpoint import FORMAT
from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.adapters.lightning.networks.losses import loss_for
from thunder.adapters.lightning.networks.zoo import build
from thunder.adapters.onnx_model import OnnxModel
from thunder.domain.training import ARCHITECTURES, NetworkConfig, Optimisation, TrainingOptions
from thunder.domain.values import WindowBatch

LEVELS = (0.1, 0.5, 0.9)


def config(architecture: str, **kw: object) -> NetworkConfig:
    return tiny_network(architecture, **kw)


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("levels", [(), LEVELS])
def test_every_architecture_maps_windows_to_future_targets_and_levels(
    arch: str, levels: tuple[float, ...]
) -> None:
    net = build(config(arch, num_features=3, num_targets=2, target_inputs=(0, 2), quantiles=levels))
    y = net.forecast(torch.randn(5, 16, 3))
    assert y.shape == (5, 4, 2, max(1, len(levels)))
    if levels:  # the median among them; sorted bands are the forecaster's business
        assert net.eval().forecast(torch.randn(5, 16, 3)).shape[-1] == 3


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_outputs_and_gradients_stay_finite_on_long_and_large_inputs(arch: str) -> None:
    net = build(config(arch, past_steps=256, quantiles=LEVELS))
    x = torch.randn(4, 256, 2) * 1e3
    loss = loss_for(net)(net(x), x[:, -4:, 0])
    assert torch.isfinite(net(x)).all()
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_tiny_overfit_on_64_windows(arch: str) -> None:
    torch.manual_seed(0)
    net = build(config(arch, target_inputs=None))
    x = torch.randn(64, 16, 2)
    y = x[:, -4:, 0].flip(1) * 0.5  # [64, 4]: a learnable function of the inputs
    loss = loss_for(net)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(300):
        opt.zero_grad()
        loss(net(x), y[..., None]).backward()
        opt.step()
    mse = torch.nn.functional.mse_loss(net(x)[..., 0], y[..., None]).item()
    assert mse < 0.02, mse


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_save_load_gives_identical_predictions(arch: str) -> None:
    f = LightningForecaster(config(arch, quantiles=LEVELS), TrainingOptions())
    x = np.random.default_rng(0).normal(size=(5, 16, 2)).astype(np.float32)
    loaded = LightningForecaster.from_bytes(f.to_bytes())
    assert loaded._network.architecture == arch
    want, got = f.predict(x), loaded.predict(x)
    assert got.quantiles is not None and want.quantiles is not None
    np.testing.assert_array_equal(got.quantiles, want.quantiles)


def test_an_xlstm_checkpoint_saved_before_the_zoo_still_loads() -> None:
    f = LightningForecaster(config("xlstm"), TrainingOptions())
    ckpt = torch.load(io.BytesIO(f.to_bytes()), weights_only=True)
    del ckpt["network"]["architecture"]  # as thunder wrote them before model_config.architecture
    buf = io.BytesIO()
    torch.save({**ckpt, "format": FORMAT}, buf)
    x = np.random.default_rng(1).normal(size=(3, 16, 2)).astype(np.float32)
    old = LightningForecaster.from_bytes(buf.getvalue())
    np.testing.assert_array_equal(old.predict(x).point, f.predict(x).point)


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("levels", [(), LEVELS])
def test_torchscript_and_onnx_match_the_eager_network(arch: str, levels: tuple[float, ...]) -> None:
    forecaster = LightningForecaster(config(arch, quantiles=levels), TrainingOptions())
    onnx = OnnxModel.from_bytes(forecaster.to_onnx())
    for n in (1, 37):
        x = np.random.default_rng(n).normal(size=(n, 16, 2)).astype(np.float32)
        with torch.no_grad():
            eager = forecaster._net.eval().forecast(torch.from_numpy(x)).numpy()  # [n, 4, 1, Q]
        want = np.sort(eager, axis=-1)  # Prediction sorts the levels
        for got in (forecaster.predict(x), onnx.predict(x)):
            np.testing.assert_allclose(got.point, want[..., len(levels) // 2], atol=1e-4)
            if levels:
                assert got.quantiles is not None
                np.testing.assert_allclose(got.quantiles, want, atol=1e-4)


def windows(n: int, seed: int) -> list[WindowBatch]:
    x = np.random.default_rng(seed).normal(size=(n, 16, 2)).astype(np.float32)
    return [WindowBatch(x=x, y=x[:, -4:, :1] * 0.5, history=x)]


def test_the_tft_trains_two_optimisers_by_manual_optimisation() -> None:
    cfg = config("tft", target_inputs=None)
    optimisation = Optimisation(learning_rate=3e-3, gradient_clip_val=1.0, lr_schedule="cosine")
    opts = TrainingOptions(epochs=100, max_steps=60, batch_size=32, optimisation=optimisation)
    forecaster = LightningForecaster(cfg, opts)
    before = [[p.detach().clone() for p in g] for g in forecaster._net.parameter_groups()]
    train, val = windows(64, 0), windows(32, 0)
    x, y = torch.from_numpy(train[0].x), torch.from_numpy(train[0].y)
    start = torch.nn.functional.mse_loss(forecaster._net(x), y[..., None]).item()

    fit = forecaster.fit(train, val, train_windows=64)

    module = forecaster._module
    assert not module.automatic_optimization and module.num_optimizers == 2
    assert fit.steps == 60  # max_steps counts training steps, not optimiser steps
    optimisers = module.trainer.optimizers
    assert len(optimisers) == 2 and all(len(o.state) > 0 for o in optimisers)
    groups = forecaster._net.parameter_groups()
    for old, new in zip(before, groups, strict=True):  # every group's parameters moved
        assert any(not torch.equal(a, b.detach()) for a, b in zip(old, new, strict=True))
    with torch.no_grad():
        end = torch.nn.functional.mse_loss(forecaster._net(x), y[..., None]).item()
    assert end < 0.3 * start, (start, end)


def test_the_lr_range_test_refuses_a_two_optimiser_architecture() -> None:
    from thunder.domain.errors import ConfigError

    opts = TrainingOptions(epochs=1, batch_size=32, find_lr=True)
    with pytest.raises(ConfigError, match="--find-lr needs one optimiser"):
        LightningForecaster(config("tft"), opts).fit(windows(64, 0), [], train_windows=64)
