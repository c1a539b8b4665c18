"""training_config.callbacks: Lightning callbacks named by import path, built with their keyword
arguments before any data is read, and run by the Trainer."""

from pathlib import Path
from typing import Any, ClassVar

import pytest
import pytorch_lightning as pl
from click.testing import CliRunner
from dependency_injector import providers

from tests.conftest import small_config
from tests.unit.conftest import climate_like, settings_from, tiny_network
from tests.unit.test_cli import table_source
from tests.unit.test_custom_network import windows
from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.app.container import Container
from thunder.app.training_options import training_options
from thunder.domain.errors import ConfigError
from thunder.domain.training import CallbackSpec, TrainingOptions
from thunder.entrypoints.cli.main import cli

HERE = "tests.unit.test_named_callbacks"


class EpochLog(pl.Callback):
    """Records each finished epoch's number under its `tag`."""

    seen: ClassVar[dict[str, list[int]]] = {}

    def __init__(self, tag: str = "plain") -> None:
        self.tag = tag

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        EpochLog.seen.setdefault(self.tag, []).append(trainer.current_epoch)


NOT_A_CALLBACK = 3


def test_both_shapes_become_specs_with_their_arguments(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    cfg["training_config"]["callbacks"] = [
        f"{HERE}:EpochLog",
        {"class_path": f"{HERE}.EpochLog", "init_args": {"tag": "x"}},
    ]
    options = training_options(settings_from(tmp_path, cfg), progress=False, find_lr=False)
    assert options.named_callbacks == (
        CallbackSpec(f"{HERE}:EpochLog"),
        CallbackSpec(f"{HERE}.EpochLog", {"tag": "x"}),
    )


@pytest.mark.parametrize(
    "entry",
    ["EpochLog", "tests unit:EpochLog", {"class_path": f"{HERE}:EpochLog", "args": {}}],
)
def test_a_malformed_entry_is_a_config_error_naming_it(tmp_path: Path, entry: Any) -> None:
    cfg = small_config(tmp_path)
    cfg["training_config"]["callbacks"] = [entry]
    with pytest.raises(ConfigError, match=r"training_config\.callbacks"):
        settings_from(tmp_path, cfg)


def test_a_named_callback_is_built_with_its_arguments_and_runs_each_epoch() -> None:
    spec = CallbackSpec(f"{HERE}:EpochLog", {"tag": "run"})
    options = TrainingOptions(epochs=3, batch_size=32, named_callbacks=(spec,))
    LightningForecaster(tiny_network(), options).fit(windows(64, 0), [], train_windows=64)
    assert EpochLog.seen["run"] == [0, 1, 2]


@pytest.mark.parametrize(
    ("path", "kwargs", "said"),
    [
        ("no_such_package.mod:Cb", {}, "cannot import no_such_package.mod"),
        (f"{HERE}:Missing", {}, f"{HERE} has no Missing"),
        (f"{HERE}:NOT_A_CALLBACK", {}, "is not a pytorch_lightning Callback"),
        (f"{HERE}:EpochLog", {"colour": 1}, r"EpochLog\(\*\*init_args\) failed: TypeError"),
    ],
)
def test_a_callback_that_cannot_be_built_fails_before_training(
    path: str, kwargs: dict[str, Any], said: str
) -> None:
    fine = CallbackSpec("pytorch_lightning:Callback")
    options = TrainingOptions(named_callbacks=(fine, fine, CallbackSpec(path, kwargs)))
    with pytest.raises(ConfigError, match=said) as e:
        LightningForecaster(tiny_network(), options)
    assert e.value.field == "training_config.callbacks[2]"
    assert "\n" not in e.value.message


def test_chunk_says_which_entry_failed_in_one_line_before_reading_data(
    container: Container, tmp_path: Path
) -> None:
    from thunder.app.container import _lightning_forecaster

    cfg = small_config(tmp_path)
    cfg["training_config"]["callbacks"] = ["no_such_package:Cb"]
    source = table_source(climate_like(200), "x.csv", 50)
    container.settings.override(settings_from(tmp_path, cfg))
    container.forecaster.override(providers.Factory(_lightning_forecaster, layout=None))
    container.chunk_source.override(providers.Object(source))
    result = CliRunner().invoke(cli, ["chunk", "--input", "x.csv", "--size", "50"], obj=container)
    assert result.exit_code == 1 and result.output.strip().count("\n") == 0, result.output
    assert "training_config.callbacks[0]: cannot import no_such_package" in result.output
    assert source.passes == 0 and source.rows_read == 0
