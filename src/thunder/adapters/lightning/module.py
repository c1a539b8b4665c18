"""LightningModule around the xLSTM network: steps, loss and optimiser. Plain hyper-parameters in."""

import math
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MeanMetric

from thunder.adapters.lightning.network import NetworkConfig, XLSTMForecaster


def pinball_loss(pred: Tensor, y: Tensor, levels: Tensor) -> Tensor:
    """Mean quantile (pinball) loss: pred [..., Q] at `levels` [Q], y [...] the actuals.

    rho_a(e) = max(a e, (a - 1) e) with e = y - pred is minimised by the a-quantile of y.
    """
    e = y[..., None] - pred  # [..., Q]
    return torch.maximum(levels * e, (levels - 1) * e).mean()


class ForecastModule(pl.LightningModule):
    levels: Tensor  # quantile levels [Q] as a buffer, so it follows the module to its device

    def __init__(
        self,
        network: dict[str, Any],
        learning_rate: float,
        lr_schedule: str = "none",
        warmup_steps: int = 0,
        total_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = XLSTMForecaster(NetworkConfig.from_dict(network))
        levels = self.net.cfg.quantiles
        self.register_buffer("levels", torch.tensor(levels or (0.5,)), persistent=False)
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.windows_seen = 0
        # the val loss as a weighted mean of every val window's loss; in a distributed run the
        # sums and counts are added up over the ranks, so it equals the one-process figure
        self.val_loss = MeanMetric()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # type: ignore[no-any-return]

    def _loss(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch  # [B, past, F], [B, future, T]
        out = self(x)  # [B, future, T, Q]
        if not self.net.cfg.quantiles:
            return F.mse_loss(out[..., 0], y)
        return pinball_loss(out, y, self.levels)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self._loss(batch)
        self.windows_seen += batch[0].shape[0]
        self.log("train_loss", loss, prog_bar=True, batch_size=batch[0].shape[0])
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.val_loss.update(self._loss(batch), weight=batch[0].shape[0])
        self.log("val_loss", self.val_loss, prog_bar=True, on_step=False, on_epoch=True)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.log("test_loss", self._loss(batch), batch_size=batch[0].shape[0])

    def configure_optimizers(self) -> Any:
        # fused: one kernel for all parameters instead of a dozen small ops per tensor (CPU and CUDA)
        opt = torch.optim.AdamW(self.parameters(), lr=self.learning_rate, fused=True)
        if self.lr_schedule == "plateau":
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
            # strict=False: with no validation windows there is no val_loss, and no reduction
            sched = {
                "scheduler": plateau,
                "monitor": "val_loss",
                "interval": "epoch",
                "strict": False,
            }
            return {"optimizer": opt, "lr_scheduler": sched}
        if self.lr_schedule == "cosine":
            cosine = torch.optim.lr_scheduler.LambdaLR(opt, self._cosine_factor)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": cosine, "interval": "step"}}
        return opt

    def _cosine_factor(self, step: int) -> float:
        """Linear warm-up over warmup_steps, then half a cosine down to 0 at total_steps."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if not self.total_steps or self.total_steps <= self.warmup_steps:
            return 1.0
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return 0.5 * (1.0 + math.cos(math.pi * progress))
