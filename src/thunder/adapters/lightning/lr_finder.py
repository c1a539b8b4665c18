"""--find-lr: Lightning's learning-rate range test, run before the training proper."""

import tempfile

from pytorch_lightning.tuner.tuning import Tuner
from torch.utils.data import DataLoader

from thunder.adapters.lightning.data import WindowBatches
from thunder.adapters.lightning.module import ForecastModule
from thunder.adapters.lightning.trainer import RunLayout, build_trainer, quiet_lightning
from thunder.domain.errors import ConfigError
from thunder.domain.training import TrainingOptions


def find_learning_rate(
    module: ForecastModule,
    train_data: WindowBatches,
    options: TrainingOptions,
    layout: RunLayout | None,
    architecture: str,
) -> bool:
    """Lightning's range test: 100 steps with the rate rising exponentially from 1e-6 to 1,
    then the rate at the steepest fall of the smoothed loss. The weights are restored after;
    the module keeps the suggestion as its learning_rate. False when the test gave none
    (e.g. a loss that never fell): the configured rate stays."""
    if module.groups > 1:  # Lightning's range test drives exactly one optimiser
        raise ConfigError(
            f"--find-lr needs one optimiser; model_config.architecture "
            f"'{architecture}' trains {module.groups}: set "
            f"model_config.learning_rate instead",
            field="model_config.architecture",
        )
    # the finder parks the initial weights in a checkpoint file: keep it out of the cwd
    with quiet_lightning(), tempfile.TemporaryDirectory(prefix="thunder-lr-") as tmp:
        trainer = build_trainer(options, module, layout, [], max_epochs=10_000, root_dir=tmp)
        finder = Tuner(trainer).lr_find(
            module,
            train_dataloaders=DataLoader(train_data, batch_size=None),
            min_lr=1e-6,
            max_lr=1.0,
            num_training=100,
            attr_name="learning_rate",
        )
    return finder is not None and finder.suggestion() is not None
