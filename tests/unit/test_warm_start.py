"""`chunk --init-from` / `thunder.train(init_from=...)`: a run starts from a published model's
weights (and, with keep_scaler, its scaler), on the real stack; a different network, columns or
window is refused in one line naming the first field that differs."""

import json
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
from click.testing import CliRunner

import thunder
from tests.conftest import small_config
from tests.unit.test_library_train import demo_frame
from thunder.domain.errors import ArtifactNotFound, ConfigError
from thunder.entrypoints.cli.main import cli


class FirstValLoss(pl.Callback):
    """The val_loss of the run's first epoch."""

    def __init__(self) -> None:
        self.first: float | None = None

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self.first is None and "val_loss" in trainer.callback_metrics:
            self.first = float(trainer.callback_metrics["val_loss"])


def config(root: Path, epochs: int = 1, **model: Any) -> Any:
    return thunder.load_config(config_file(root, epochs, **model))


def config_file(root: Path, epochs: int = 1, **model: Any) -> str:
    """Every test's runs publish into one folder of models (`root`), the trained one kept."""
    cfg = small_config(root, keep_versions=50)
    cfg["training_config"] = {"epochs": epochs, "seed": 0}
    cfg["model_config"].update({"hidden_size": 16, "num_layers": 1, "learning_rate": 1e-2, **model})
    return _written(root, cfg)


def _written(root: Path, cfg: dict[str, Any]) -> str:
    path = root / f"config-{len(list(root.glob('config-*')))}.json"
    path.write_text(json.dumps(cfg))
    return str(path)


@pytest.fixture(scope="module")
def trained_in(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, thunder.TrainingRun]:
    """A model trained for a few epochs (the version the tests start from), and its folder."""
    root = tmp_path_factory.mktemp("warm")
    return root, thunder.train(demo_frame(400), config(root, epochs=4), chunk_size=100)


@pytest.fixture
def root(trained_in: tuple[Path, thunder.TrainingRun]) -> Path:
    return trained_in[0]


@pytest.fixture
def trained(trained_in: tuple[Path, thunder.TrainingRun]) -> thunder.TrainingRun:
    return trained_in[1]


def test_a_warm_start_begins_below_a_fresh_run_and_the_report_names_the_version(
    root: Path, trained: thunder.TrainingRun
) -> None:
    cfg = config(root)
    fresh, warm = FirstValLoss(), FirstValLoss()
    thunder.train(demo_frame(400), cfg, chunk_size=100, callbacks=[fresh])
    run = thunder.train(
        demo_frame(400), cfg, chunk_size=100, callbacks=[warm], init_from=trained.version
    )
    assert fresh.first is not None and warm.first is not None
    assert warm.first < 0.8 * fresh.first
    assert run.report.train.init_from == f"version {trained.version}"
    assert run.report.train.kept_scaler is False


def test_a_model_file_starts_a_run_too(root: Path, trained: thunder.TrainingRun) -> None:
    cfg = config(root)
    run = thunder.train(demo_frame(400), cfg, chunk_size=100, init_from=Path(cfg.model_path))
    assert run.report.train.init_from == cfg.model_path


def test_keep_scaler_publishes_the_sources_scaler_and_refitting_does_not(
    root: Path, trained: thunder.TrainingRun
) -> None:
    cfg, shifted = config(root), demo_frame(400)
    shifted["meantemp"] += 50.0
    version = root.glob(f"**/{trained.version}/{Path(cfg.preprocessor_path).name}")
    source = next(version).read_bytes()
    thunder.train(shifted, cfg, chunk_size=100, init_from=trained.version)
    assert Path(cfg.preprocessor_path).read_bytes() != source
    run = thunder.train(shifted, cfg, chunk_size=100, init_from=trained.version, keep_scaler=True)
    assert Path(cfg.preprocessor_path).read_bytes() == source
    assert run.report.train.kept_scaler is True


@pytest.mark.parametrize(
    ("model", "said"),
    [
        ({"hidden_size": 8}, r"model_config\.hidden_size differs \(hidden_size 16 there, 8 here\)"),
        ({"architecture": "lstm"}, r"model_config\.architecture differs"),
    ],
)
def test_another_network_is_refused_naming_the_field(
    root: Path, trained: thunder.TrainingRun, model: dict[str, Any], said: str
) -> None:
    if model.get("architecture") == "lstm":
        model["num_attention_heads"] = 4  # lstm reads no heads: back to the default
    with pytest.raises(ConfigError, match=said):
        thunder.train(demo_frame(400), config(root, **model), init_from=trained.version)


def test_other_columns_or_window_are_refused_naming_them(
    root: Path, trained: thunder.TrainingRun
) -> None:
    cfg = small_config(root)
    cfg["preprocessing_config"]["split_config"]["past_steps"] = 12
    with pytest.raises(ConfigError, match=r"split_config\.past_steps is 24 there, 12 here"):
        thunder.train(demo_frame(400), _written(root, cfg), init_from=trained.version)


def test_an_unknown_source_and_a_lone_keep_scaler_are_one_line_each(
    root: Path, trained: thunder.TrainingRun
) -> None:
    cfg = config(root)
    with pytest.raises(ArtifactNotFound, match="neither a version of this model"):
        thunder.train(demo_frame(400), cfg, init_from="no-such-version")
    with pytest.raises(ConfigError, match="give --init-from too"):
        thunder.train(demo_frame(400), cfg, keep_scaler=True)


def test_chunk_prints_where_the_weights_started(root: Path, trained: thunder.TrainingRun) -> None:
    data = root / "data.csv"
    demo_frame(400).to_csv(data, index=False)
    cfg = config_file(root)
    args = ["chunk", "--input", str(data), "--size", "100", "--config", cfg]
    result = CliRunner().invoke(cli, [*args, "--init-from", trained.version, "--keep-scaler"])
    assert result.exit_code == 0, result.output
    assert f"started from version {trained.version} and its scaler" in result.output
    result = CliRunner().invoke(cli, [*args, "--init-from", "nowhere.pt"])
    assert result.exit_code == 1 and result.output.strip().count("\n") == 0, result.output
    assert "--init-from nowhere.pt: neither a version" in result.output
