"""The callbacks of a training run: the best epoch's weights kept, a search's pruning hook,
early stopping and the per-epoch checkpoints that --resume continues from."""

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from thunder.domain.training import TrainingOptions
from thunder.domain.tuning import EpochHook


class KeepBestWeights(pl.Callback):
    """Remembers the weights of the epoch with the lowest val_loss, so the saved model is the best."""

    def __init__(self) -> None:
        self.best: float | None = None
        self.state: dict[str, torch.Tensor] | None = None

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        loss = trainer.callback_metrics.get("val_loss")
        if loss is not None and (self.best is None or float(loss) < self.best):
            self.keep(float(loss), module)

    def keep(self, loss: float, module: torch.nn.Module) -> None:
        """`module`'s weights as they are now, with their val_loss, as the best so far."""
        self.best = loss
        self.state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        """Saved in each checkpoint, so a resumed run still returns the best epoch's weights."""
        return {"best": self.best, "state": self.state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best, self.state = state_dict["best"], state_dict["state"]


class ReportEpochs(pl.Callback):
    """Hands each epoch's val_loss to a hook (a hyper-parameter search's pruner) and stops the
    run when it says so. Ours, not optuna-integration's: that one only speaks to the `lightning`
    package's Trainer, and thunder trains with `pytorch_lightning`'s."""

    def __init__(self, hook: EpochHook) -> None:
        self._hook = hook

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        loss = trainer.callback_metrics.get("val_loss")
        if trainer.sanity_checking or loss is None:
            return
        if self._hook(trainer.current_epoch, float(loss)):
            trainer.should_stop = True


def training_callbacks(
    options: TrainingOptions, run_dir: Path | None
) -> tuple[KeepBestWeights, list[pl.Callback]]:
    """The run's callbacks, the best-weights keeper first (also returned, to read after)."""
    best = KeepBestWeights()
    callbacks: list[pl.Callback] = [best]
    stopping = options.early_stopping
    if stopping is not None:
        callbacks.append(
            pl.callbacks.EarlyStopping(
                monitor="val_loss",
                mode="min",
                patience=stopping.patience,
                min_delta=stopping.min_delta,
                strict=False,  # no validation windows: nothing to stop on
            )
        )
    if options.epoch_end is not None:
        callbacks.append(ReportEpochs(options.epoch_end))
    if run_dir is not None:
        # a checkpoint after every epoch; `last.ckpt` is what --resume continues from
        callbacks.append(ModelCheckpoint(dirpath=run_dir, save_last=True, save_top_k=1))
    return best, callbacks
