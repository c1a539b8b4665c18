"""A trained forecaster handed out as a ThunderModule: its predictor scales raw windows and
trainer.predict returns forecasts in the data's own units, equal to the served path's."""

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from tests.unit.test_custom_network import NET as CUSTOM_NET
from tests.unit.test_custom_network import module as custom_module
from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.adapters.sklearn_preprocessor import SklearnPreprocessor
from thunder.domain.training import NetworkConfig, TrainingOptions
from thunder.domain.values import Scaling, WindowBatch

COLUMNS = ("load", "temp")
NET = NetworkConfig(
    num_features=2, num_targets=1, past_steps=16, future_steps=4, target_inputs=(0,),
    quantiles=(0.1, 0.5, 0.9), hidden_size=16, num_layers=1, block_pattern="m",
)  # fmt: skip


def raw_windows(n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.normal([50.0, -5.0], [10.0, 2.0], (n, 16, 2)).astype(np.float32)


def fitted(pre: SklearnPreprocessor, x: np.ndarray) -> list[WindowBatch]:
    scaled = pre.transform(x, COLUMNS)
    return [WindowBatch(x=scaled, y=scaled[:, -4:, :1], history=scaled)]


def served(forecaster: LightningForecaster, pre: SklearnPreprocessor, x: np.ndarray) -> np.ndarray:
    """What ServedModel does: scale, forecast, scale back."""
    out = forecaster.predict(pre.transform(x, COLUMNS))
    quantiles = out.quantiles if out.quantiles is not None else out.point[..., None]
    return pre.inverse_transform(quantiles.swapaxes(-1, -2), ("load",)).swapaxes(-1, -2)


def predicted(module: nn.Module, x: np.ndarray) -> np.ndarray:
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    loader = DataLoader(TensorDataset(torch.from_numpy(x)), batch_size=5)
    parts = trainer.predict(module, loader)  # type: ignore[arg-type]
    assert parts is not None
    return torch.cat(parts).numpy()  # type: ignore[arg-type]


def scaling(pre: SklearnPreprocessor) -> Scaling:
    (xm, xs), (ym, ys) = pre.affine(COLUMNS), pre.affine(("load",))
    return Scaling(tuple(xm), tuple(xs), tuple(ym), tuple(ys))


def test_predict_step_of_a_trained_model_returns_the_datas_units() -> None:
    x = raw_windows(64)
    pre = SklearnPreprocessor(COLUMNS)
    pre.partial_fit(x.reshape(-1, 2))
    forecaster = LightningForecaster(NET, TrainingOptions(epochs=1, batch_size=16))
    forecaster.fit(fitted(pre, x), [], train_windows=64)
    got = predicted(forecaster.as_module(scaling(pre)), x[:12])
    assert got.shape == (12, 4, 1, 3)
    assert 20 < float(np.median(got)) < 80  # the data's units (load ~ 50), not scaled ones
    np.testing.assert_allclose(got, served(forecaster, pre, x[:12]), rtol=1e-4, atol=1e-3)


def test_a_custom_networks_module_predicts_the_datas_units_too() -> None:
    x = raw_windows(64)
    pre = SklearnPreprocessor(COLUMNS)
    pre.partial_fit(x.reshape(-1, 2))
    forecaster = LightningForecaster(
        CUSTOM_NET, TrainingOptions(epochs=1, batch_size=16), module=custom_module()
    )
    forecaster.fit(fitted(pre, x), [], train_windows=64)
    loaded = LightningForecaster.from_bytes(forecaster.to_bytes())
    want = served(forecaster, pre, x[:12])
    for source in (forecaster, loaded):
        got = predicted(source.as_module(scaling(pre)), x[:12])
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
