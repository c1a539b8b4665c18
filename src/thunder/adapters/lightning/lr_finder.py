"""--find-lr: Lightning's learning-rate range test, run before the training proper."""

import tempfile

from pytorch_lightning.tuner.tuning import Tuner
from torch.utils.data import DataLoader

from thunder.adapters.lightning.data import WindowBatches
from thunder.adapters.lightning.module import ThunderModule
from thunder.adapters.lightning.trainer import RunLayout, build_trainer, quiet_lightning
from thunder.domain.errors import ConfigError
from thunder.domain.training import TrainingOptions


def find_learning_rate(
    module: ThunderModule,
    train_data: WindowBatches,
    options: TrainingOptions,
    layout: RunLayout | None,
    architecture: str,
) -> float | None:
    """Lightning's range test: 100 steps with the rate rising exponentially from 1e-6 to 1,
    then the rate at the steepest fall of the smoothed loss: the suggestion. None when the
    test gave none (e.g. a loss that never fell): the configured rate stays. The module's
    optimizer has been stepped by the test: train a fresh one."""
    if module.num_optimizers > 1:  # Lightning's range test drives exactly one optimiser
        raise ConfigError(
            f"--find-lr needs one optimiser; model_config.architecture "
            f"'{architecture}' trains {module.num_optimizers}: set "
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
            update_attr=False,
        )
    suggestion = finder.suggestion() if finder is not None else None
    return float(suggestion) if suggestion is not None else None
