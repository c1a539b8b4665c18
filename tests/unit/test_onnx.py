"""The ONNX export serves the very forecasts of the torch model."""

import numpy as np
import onnx
import pytest
import torch

from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.adapters.onnx_model import OnnxModel
from thunder.domain.errors import ArtifactCorrupt
from thunder.domain.training import NetworkConfig, TrainingOptions


def _forecaster(pattern: str, quantiles: tuple[float, ...] = ()) -> LightningForecaster:
    net = NetworkConfig(
        num_features=3,
        num_targets=2,
        past_steps=20,
        future_steps=5,
        hidden_size=16,
        num_layers=len(pattern),
        num_heads=2,
        block_pattern=pattern,
        target_inputs=(0, 1),
        quantiles=quantiles,
    )
    torch.manual_seed(0)
    forecaster = LightningForecaster(net, TrainingOptions())
    # trained-looking weights: the fresh initialisation leaves some gates at exact zeros
    with_noise = LightningForecaster.from_bytes(forecaster.to_bytes())
    torch.manual_seed(0)
    with torch.no_grad():
        for p in with_noise._module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return with_noise


@pytest.mark.parametrize(
    ("pattern", "quantiles"), [("ms", ()), ("mm", ()), ("sm", (0.1, 0.5, 0.9))]
)
def test_onnx_forecasts_match_torch_to_1e_4(pattern: str, quantiles: tuple[float, ...]) -> None:
    torch_model = _forecaster(pattern, quantiles)
    onnx_model = OnnxModel.from_bytes(torch_model.to_onnx())
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 1500):  # 1500: more than one slice (adapters/slices.py)
        x = rng.normal(size=(n, 20, 3)).astype(np.float32) * 3
        want, got = torch_model.predict(x), onnx_model.predict(x)
        assert got.point.shape == want.point.shape == (n, 5, 2)
        np.testing.assert_allclose(got.point, want.point, atol=1e-4, rtol=0)
        assert got.levels == want.levels
        if quantiles:
            assert got.quantiles is not None and want.quantiles is not None
            np.testing.assert_allclose(got.quantiles, want.quantiles, atol=1e-4, rtol=0)


@pytest.mark.parametrize("blob", [b"", b"not onnx at all", b"\x08\x07\x12\x04junk"])
def test_a_foreign_or_damaged_onnx_file_is_refused(blob: bytes) -> None:
    with pytest.raises(ArtifactCorrupt, match=r"m\.onnx: not a thunder ONNX model"):
        OnnxModel.from_bytes(blob, "m.onnx")


def test_an_onnx_file_without_thunder_metadata_is_refused() -> None:
    model = onnx.load_from_string(_forecaster("ms").to_onnx())
    del model.metadata_props[:]
    with pytest.raises(ArtifactCorrupt, match="no thunder metadata"):
        OnnxModel.from_bytes(model.SerializeToString(), "m.onnx")


def test_int8_export_runs_and_is_marked_quantised() -> None:
    torch_model = _forecaster("ms")
    data = torch_model.to_onnx(int8=True)
    assert onnx.load_from_string(data).metadata_props[-1].value == "int8"
    x = np.random.default_rng(1).normal(size=(64, 20, 3)).astype(np.float32)
    got = OnnxModel.from_bytes(data).predict(x).point
    assert np.isfinite(got).all()
    # quantised, so not the float model's numbers (how close on a trained model: integration)
    assert not np.allclose(got, torch_model.predict(x).point, atol=1e-4)
