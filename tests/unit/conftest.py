import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dependency_injector import providers

from tests.conftest import small_config
from tests.unit.fakes import (
    FakeForecaster,
    FakePreprocessor,
    InMemoryArtifactStore,
    InMemoryReportWriter,
    InMemoryRowCache,
)
from thunder.app.container import Container
from thunder.app.settings import Settings, load_settings
from thunder.domain.training import NetworkConfig


def settings_from(tmp_path: Path, cfg: dict[str, Any]) -> Settings:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return load_settings(str(path))


def tiny_network(architecture: str = "xlstm", **kw: object) -> NetworkConfig:
    """A network small enough for unit tests: 2 inputs (the target first), past 16, future 4."""
    base: dict[str, object] = dict(
        num_features=2,
        num_targets=1,
        past_steps=16,
        future_steps=4,
        hidden_size=16,
        num_layers=2,
        num_heads=2,
        dropout=0.0,
        target_inputs=(0,),
        architecture=architecture,
    )
    base.update(kw)
    return NetworkConfig(**base)  # type: ignore[arg-type]


def climate_like(rows: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    return {
        "meantemp": 20 + 8 * np.sin(t / 20) + rng.normal(0, 0.5, rows),
        "humidity": 60 + rng.normal(0, 5, rows),
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    cfg = small_config(tmp_path)
    cfg["model_config"]["future_steps"] = 3
    cfg["preprocessing_config"]["split_config"].update(past_steps=8, future_steps=3)
    return settings_from(tmp_path, cfg)


@pytest.fixture
def store() -> InMemoryArtifactStore:
    return InMemoryArtifactStore()


@pytest.fixture
def container(settings: Settings, store: InMemoryArtifactStore) -> Iterator[Container]:
    """The real container with every adapter swapped for a fake."""
    c = Container()
    c.settings.override(settings)
    c.artifact_store.override(store)
    c.row_cache.override(providers.Object(InMemoryRowCache()))
    c.preprocessor_factory.override(FakePreprocessor)
    c.preprocessor_loader.override(FakePreprocessor.from_bytes)
    c.torch_model_loader.override(FakeForecaster.from_bytes)
    c.report_writer.override(providers.Singleton(InMemoryReportWriter))
    c.onnx_exporter.override(providers.Object(None))  # the fake model has no ONNX form
    c.forecaster.override(providers.Factory(FakeForecaster, (0,), settings.window.future_steps))
    yield c
    c.unwire()
