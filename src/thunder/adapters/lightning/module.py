"""The one LightningModule: any architecture (a plain nn.Module), a loss, an optimiser factory
and an LR-schedule factory in; the training and validation steps written once.

An architecture with one parameter group trains with Lightning's automatic optimisation; one
that asks for several (WindowNetwork.parameter_groups) gets one optimiser per group and
manual optimisation: one backward, each group's gradient clipped and stepped, step-interval
schedules stepped per batch and the plateau schedule per epoch.
"""

from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor
from torchmetrics import MeanMetric

from thunder.adapters.lightning.networks.base import WindowNetwork
from thunder.adapters.lightning.networks.losses import Loss
from thunder.adapters.lightning.optim import OptimizerFactory, SchedulerFactory

Batch = tuple[Tensor, Tensor]


class ForecastModule(pl.LightningModule):
    def __init__(
        self,
        net: WindowNetwork,
        loss: Loss,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        *,
        learning_rate: float,
        gradient_clip_val: float | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.loss = loss
        self.make_optimizer = optimizer
        self.make_scheduler = scheduler
        self.learning_rate = learning_rate  # Lightning's range test (--find-lr) sets it
        self.gradient_clip_val = gradient_clip_val
        self.groups = len(net.parameter_groups())
        self.automatic_optimization = self.groups == 1
        self.windows_seen = 0
        # the val loss as a weighted mean of every val window's loss; in a distributed run the
        # sums and counts are added up over the ranks, so it equals the one-process figure
        self.val_loss = MeanMetric()

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, past, F] scaled -> [B, future, T, Q] scaled forecasts."""
        out: Tensor = self.net(x)
        return out

    def _loss(self, batch: Batch) -> Tensor:
        x, y = batch  # [B, past, F], [B, future, T]
        return self.loss(self.net.distribution(x), y)  # [B, future, T, P] vs [B, future, T]

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self._loss(batch)
        self.windows_seen += batch[0].shape[0]
        self.log("train_loss", loss, prog_bar=True, batch_size=batch[0].shape[0])
        if not self.automatic_optimization:
            self._manual_step(loss)
        return loss

    def _manual_step(self, loss: Tensor) -> None:
        optimizers = self._list(self.optimizers())
        for opt in optimizers:
            opt.zero_grad()
        self.manual_backward(loss)
        for opt in optimizers:
            if self.gradient_clip_val is not None:  # per group: each optimiser's own norm
                self.clip_gradients(opt, self.gradient_clip_val, gradient_clip_algorithm="norm")
            opt.step()
        for sched in self._list(self.lr_schedulers()):
            if not isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step()

    def on_train_epoch_end(self) -> None:
        """Manual optimisation steps the plateau schedule itself, after the epoch's validation."""
        val = self.trainer.callback_metrics.get("val_loss")
        if self.automatic_optimization or val is None:
            return
        for sched in self._list(self.lr_schedulers()):
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(float(val))

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self.val_loss.update(self._loss(batch), weight=batch[0].shape[0])
        self.log("val_loss", self.val_loss, prog_bar=True, on_step=False, on_epoch=True)

    def configure_optimizers(self) -> Any:
        optimizers = [
            self.make_optimizer(g, self.learning_rate) for g in self.net.parameter_groups()
        ]
        make = self.make_scheduler
        schedules = [s for s in (make(o) for o in optimizers) if s] if make else []
        if self.automatic_optimization:
            opt = optimizers[0]
            return {"optimizer": opt, "lr_scheduler": schedules[0]} if schedules else opt
        return optimizers, schedules

    @staticmethod
    def _list(items: Any) -> list[Any]:
        if items is None:
            return []
        return list(items) if isinstance(items, list) else [items]
