"""LightningModule around the xLSTM network: steps, loss and optimiser. Plain hyper-parameters in."""

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from thunder.adapters.lightning.network import NetworkConfig, XLSTMForecaster


class ForecastModule(pl.LightningModule):
    def __init__(self, network: dict[str, Any], learning_rate: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        cfg = dict(network)
        if cfg.get("target_inputs") is not None:
            cfg["target_inputs"] = tuple(cfg["target_inputs"])
        self.net = XLSTMForecaster(NetworkConfig(**cfg))
        self.learning_rate = learning_rate
        self.windows_seen = 0

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # type: ignore[no-any-return]

    def _loss(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch  # [B, past, F], [B, future, T]
        return F.mse_loss(self(x), y)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self._loss(batch)
        self.windows_seen += batch[0].shape[0]
        self.log("train_loss", loss, prog_bar=True, batch_size=batch[0].shape[0])
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.log("val_loss", self._loss(batch), prog_bar=True, batch_size=batch[0].shape[0])

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.log("test_loss", self._loss(batch), batch_size=batch[0].shape[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.learning_rate)
