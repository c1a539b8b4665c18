"""--find-batch-size: Lightning's batch-size finder on the train windows, run before training.

The finder doubles the batch until a step runs out of memory and keeps the last size that ran.
That bound exists where the network runs in a device's own memory (a GPU); on the CPU nothing
but the finder's cap would stop it, and the biggest batch that fits in RAM is no guide to a good
one, so there it is refused."""

import tempfile
import warnings
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.tuner.tuning import Tuner
from torch.utils.data import DataLoader

from thunder.adapters.lightning.data import WindowBatches
from thunder.adapters.lightning.module import ThunderModule
from thunder.adapters.lightning.trainer import RunLayout, build_trainer, quiet_lightning
from thunder.domain.training import TrainingOptions

CAP = 8192  # Lightning's own upper bound of the search
ON_CPU = (
    "--find-batch-size searches the largest batch that fits in a GPU's memory; training runs "
    "on the CPU here, where memory does not bound the batch: set split_config.batch_size"
)


def refusal(accelerator: str) -> str | None:
    """Why the finder cannot apply to a run on `accelerator` ("auto" as Lightning resolves
    it), or None."""
    gpu = torch.cuda.is_available() or torch.backends.mps.is_available()
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not gpu)
    return ON_CPU if on_cpu else None


class _TrainWindows(pl.LightningDataModule):
    """The train windows in batches of `batch_size`: the attribute the finder scales."""

    def __init__(self, batches: Callable[[int], WindowBatches], batch_size: int) -> None:
        super().__init__()
        self.batch_size = batch_size
        self._batches = batches

    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(self._batches(self.batch_size), batch_size=None)

    def val_dataloader(self) -> DataLoader[Any]:
        # none: training steps are what fills memory, and the finder's trials need no score
        return DataLoader(WindowBatches([], self.batch_size), batch_size=None)


def find_batch_size(
    module: ThunderModule,
    batches: Callable[[int], WindowBatches],
    options: TrainingOptions,
    layout: RunLayout | None,
    train_windows: int | None,
) -> int:
    """The largest batch, from the configured one doubling (a batch that runs out of memory
    halves it), for which 3 training steps run; at most an epoch's windows and CAP (reached
    without a trial of its own, as Lightning's max_val is). The module's weights are restored
    after."""
    cap = min(CAP, train_windows) if train_windows else CAP
    start = min(options.batch_size, cap)
    with quiet_lightning(), tempfile.TemporaryDirectory(prefix="thunder-bs-") as tmp:
        # the module moves its batches itself (module.py), which is what this warning is about
        warnings.filterwarnings("ignore", message=".*overridden `transfer_batch_to_device`.*")
        # the finder parks the initial weights in a checkpoint file: keep it out of the cwd
        trainer = build_trainer(options, module, layout, [], max_epochs=10_000, root_dir=tmp)
        found = Tuner(trainer).scale_batch_size(
            module,
            datamodule=_TrainWindows(batches, start),
            mode="power",
            init_val=start,
            max_val=cap,
        )
    # Lightning's doubling step overshoots max_val and stops there untried: cap it here
    return min(int(found), cap) if found else start
