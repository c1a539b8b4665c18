"""A user's ThunderModule trained on thunder's windows: checked before training, published as a
traced program that forecasts without the user's class."""

from dataclasses import replace
from typing import ClassVar

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.adapters.lightning.module import ThunderModule
from thunder.domain.errors import ArtifactCorrupt, ConfigError, InvalidArgument
from thunder.domain.training import CUSTOM, NetworkConfig, TrainingOptions
from thunder.domain.values import Scaling, WindowBatch

NET = NetworkConfig(
    num_features=2, num_targets=1, past_steps=16, future_steps=4, architecture=CUSTOM
)


class Flat(nn.Module):
    """[B, past, F] -> [B, future, T]: one linear map over the whole window."""

    def __init__(self, future: int = 4) -> None:
        super().__init__()
        self.future = future
        self.linear = nn.Linear(16 * 2, future)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))[..., None]  # [B, 32] -> [B, future, 1]


def module(net: nn.Module | None = None) -> ThunderModule:
    net = net or Flat()
    return ThunderModule(net, nn.L1Loss(), optimizer=torch.optim.Adam(net.parameters(), 1e-2))


def windows(n: int, seed: int) -> list[WindowBatch]:
    x = np.random.default_rng(seed).normal(size=(n, 16, 2)).astype(np.float32)
    return [WindowBatch(x=x, y=x[:, -4:, :1] * 0.5, history=x)]


def test_a_wrong_output_shape_names_both_shapes_before_training() -> None:
    with pytest.raises(ConfigError) as e:
        LightningForecaster(NET, TrainingOptions(), module=module(Flat(future=5)))
    assert "[2, 16, 2]" in e.value.message and "[2, 5, 1]" in e.value.message
    assert "[2, 4, 1]" in e.value.message


def test_an_architecture_that_fails_on_the_window_shape_says_so() -> None:
    net = nn.Linear(3, 4)  # reads 3 features, the windows have 2
    with pytest.raises(ConfigError, match=r"failed on a batch of shape \[2, 16, 2\]"):
        LightningForecaster(NET, TrainingOptions(), module=module(net))


def test_only_a_thunder_module_is_accepted() -> None:
    with pytest.raises(InvalidArgument, match=r"module must be a thunder\.ThunderModule"):
        LightningForecaster(NET, TrainingOptions(), module=Flat())


def test_the_custom_network_trains_and_its_published_program_forecasts_the_same() -> None:
    forecaster = LightningForecaster(NET, TrainingOptions(epochs=4, batch_size=32), module=module())
    fit = forecaster.fit(windows(256, 0), windows(64, 1), train_windows=256)
    assert fit.steps == 4 * 8 and fit.learning_rate == pytest.approx(1e-2)
    x = windows(8, 2)[0].x
    before = forecaster.predict(x)
    loaded = LightningForecaster.from_bytes(forecaster.to_bytes())
    del Flat.forward  # the class is gone: the program does not need it
    try:
        after = loaded.predict(x)
    finally:
        Flat.forward = _flat_forward  # type: ignore[method-assign]
    assert before.point.shape == (8, 4, 1)
    np.testing.assert_allclose(after.point, before.point, atol=1e-6)
    assert loaded.to_bytes() == LightningForecaster.from_bytes(loaded.to_bytes()).to_bytes()


_flat_forward = Flat.forward


def test_a_damaged_program_is_an_artifact_error() -> None:
    forecaster = LightningForecaster(NET, TrainingOptions(epochs=1, batch_size=32), module=module())
    forecaster.fit(windows(64, 0), [], train_windows=64)
    data = forecaster.to_bytes()
    with pytest.raises(ArtifactCorrupt, match=r"model\.pt: not a thunder model checkpoint"):
        LightningForecaster.from_bytes(data[: len(data) // 2], "model.pt")


def test_user_callbacks_run_and_a_non_callback_is_refused() -> None:
    class Count(pl.Callback):
        epochs = 0

        def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            Count.epochs += 1

    options = TrainingOptions(epochs=3, batch_size=32, callbacks=(Count(),))
    LightningForecaster(NET, options, module=module()).fit(windows(64, 0), [], train_windows=64)
    assert Count.epochs == 3
    bad = TrainingOptions(epochs=1, batch_size=32, callbacks=(object(),))
    with pytest.raises(
        InvalidArgument, match=r"callbacks\[0\] must be a pytorch_lightning Callback"
    ):
        LightningForecaster(NET, bad, module=module()).fit(windows(64, 0), [])


def test_find_lr_is_refused_for_a_module_that_brings_its_optimizer_before_any_data() -> None:
    options = TrainingOptions(epochs=1, batch_size=32, find_lr=True)
    with pytest.raises(ConfigError, match="find_lr needs thunder's own network"):
        LightningForecaster(NET, options, module=module())


def test_quantiles_are_refused_for_a_network_that_forecasts_one_value() -> None:
    net = replace(NET, quantiles=(0.1, 0.5, 0.9))
    with pytest.raises(ConfigError, match=r"remove model_config\.quantiles") as e:
        LightningForecaster(net, TrainingOptions(), module=module())
    assert e.value.field == "model_config.quantiles"


def test_one_module_trained_twice_trains_in_train_mode_and_counts_each_fit_alone() -> None:
    class Dropped(Flat):
        modes: ClassVar[list[bool]] = []

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if torch.is_grad_enabled():
                Dropped.modes.append(self.training)
            return super().forward(x)

    user = module(Dropped())
    options = TrainingOptions(epochs=1, batch_size=32)
    for _ in range(2):
        forecaster = LightningForecaster(NET, options, module=user)
        fit = forecaster.fit(windows(64, 0), [], train_windows=64)
        assert fit.windows_seen == 64
    assert Dropped.modes and all(Dropped.modes)  # the second fit too, after the first's eval()


def test_a_published_program_exports_to_onnx_and_moves_with_its_module() -> None:
    pytest.importorskip("onnx")
    forecaster = LightningForecaster(NET, TrainingOptions(epochs=1, batch_size=32), module=module())
    forecaster.fit(windows(64, 0), [], train_windows=64)
    loaded = LightningForecaster.from_bytes(forecaster.to_bytes())
    assert len(loaded.to_onnx()) > 0
    scaling = Scaling((0.0, 0.0), (1.0, 1.0), (0.0,), (1.0,))
    moved = loaded.as_module(scaling).to(torch.float64)
    assert {p.dtype for p in moved.parameters()} == {torch.float64}
    x = torch.from_numpy(windows(3, 1)[0].x).double()
    assert moved(x).dtype == torch.float64
