"""--find-batch-size: Lightning's finder on thunder's windows picks the largest batch that fits
(a network that runs out of memory above a size stands in for a GPU's limit), training runs in
batches of that size, and where the finder cannot apply it is one line before any data."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from dependency_injector import providers

from tests.unit.conftest import climate_like
from tests.unit.test_cli import table_source
from tests.unit.test_custom_network import NET, Flat, module
from thunder.adapters.lightning import batch_finder
from thunder.adapters.lightning.data import WindowBatches
from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.app.container import Container
from thunder.app.settings import Settings
from thunder.domain.errors import ConfigError
from thunder.domain.training import TrainingOptions
from thunder.domain.values import WindowBatch
from thunder.entrypoints.cli.main import cli


class Bounded(Flat):
    """Runs out of memory, as the CPU allocator says it, on a batch of more than `limit`."""

    def __init__(self, limit: int | None) -> None:
        super().__init__()
        self.limit = limit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.limit is not None and len(x) > self.limit:
            raise RuntimeError(f"DefaultCPUAllocator: can't allocate memory: batch {len(x)}")
        return super().forward(x)


def windows(n: int) -> list[WindowBatch]:
    x = np.random.default_rng(0).normal(size=(n, 16, 2)).astype(np.float32)
    return [WindowBatch(x=x, y=x[:, -4:, :1] * 0.5, history=x)]


def find(limit: int | None, start: int, train_windows: int) -> int:
    def batches(size: int) -> WindowBatches:
        return WindowBatches(windows(train_windows), size, shuffle=True)

    options = TrainingOptions(batch_size=start, accelerator="cpu")
    return batch_finder.find_batch_size(
        module(Bounded(limit)), batches, options, None, train_windows
    )


def test_the_finder_keeps_the_largest_batch_that_fits() -> None:
    assert find(limit=64, start=8, train_windows=1000) == 64


def test_a_batch_that_does_not_fit_is_halved_until_one_does() -> None:
    assert find(limit=20, start=64, train_windows=1000) == 16


def test_the_search_stops_at_an_epochs_windows() -> None:
    assert find(limit=None, start=32, train_windows=100) == 100


def test_training_runs_in_batches_of_the_size_found(monkeypatch: pytest.MonkeyPatch) -> None:
    # the finder is refused on the CPU; here the CPU stands in for a GPU whose memory holds 64
    monkeypatch.setattr(batch_finder, "refusal", lambda accelerator: None)
    options = TrainingOptions(epochs=2, batch_size=8, find_batch_size=True)
    forecaster = LightningForecaster(NET, options, module=module(Bounded(64)))
    fit = forecaster.fit(windows(640), [], train_windows=640)
    assert fit.batch_size == 64
    assert fit.steps == 2 * 640 // 64


def test_on_the_cpu_it_is_refused_when_the_forecaster_is_made() -> None:
    options = TrainingOptions(find_batch_size=True, accelerator="cpu")
    with pytest.raises(ConfigError, match="training runs on the CPU here") as e:
        LightningForecaster(NET, options, module=module())
    assert e.value.field == "find_batch_size"


def run_chunk(container: Container, *flags: str) -> str:
    source = table_source(climate_like(200), "x.csv", 50)
    container.chunk_source.override(providers.Object(source))
    args = ["chunk", "--input", "x.csv", "--size", "50", "--find-batch-size", *flags]
    result = CliRunner().invoke(cli, args, obj=container)
    assert result.exit_code == 1 and result.output.strip().count("\n") == 0, result.output
    assert source.rows_read == 0  # said before any data
    return result.output


def test_with_several_processes_or_resume_it_is_one_line(
    container: Container, settings: Settings
) -> None:
    assert "--find-batch-size does not apply to --resume" in run_chunk(container, "--resume")
    settings.training_config.devices = 2
    assert "--find-batch-size runs in one process" in run_chunk(container)


def test_chunk_on_the_cpu_says_so_in_one_line(container: Container) -> None:
    from thunder.app.container import _lightning_forecaster

    container.forecaster.override(providers.Factory(_lightning_forecaster, layout=None))
    assert "training runs on the CPU here" in run_chunk(container)
