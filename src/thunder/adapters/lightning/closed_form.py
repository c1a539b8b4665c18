"""The closed-form start of a network with a linear path over time (xlstm_mixer's time mixing).

Before the first training step, one pass over the training windows accumulates the normal
equations of that linear map (each target's window minus its last value -> its future minus
the same value, one map shared by the targets, with an intercept), one pass over the validation
windows the same sums, and the ridge strength whose solution has the lowest validation MSE wins
(the sums give every candidate's validation error without another pass). Memory is two
[past + 1]^2 matrices, whatever the data's size; in a distributed run the ranks add their sums.

The network then starts where the closed-form linear model is; that start is scored on the
validation windows with the training criterion and handed to KeepBestWeights, so a run whose
training never improves on it publishes the linear model rather than a worse epoch.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from thunder.adapters.lightning.callbacks import KeepBestWeights
from thunder.adapters.lightning.module import ThunderModule
from thunder.adapters.lightning.networks.xlstm_mixer import XLSTMMixerNetwork

# ridge strengths per (window, target) row of the sums, a log grid wide enough that validation
# picks inside it (z-scored data: 1e-3 barely shrinks, 10 flattens the map); 0 is plain least
# squares
RIDGES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass
class NormalEquations:
    """Sums over rows a = [x - last, 1] and targets t = y - last: A'A, A't, t't, rows."""

    gram: Tensor
    cross: Tensor
    sq: Tensor
    rows: Tensor

    @classmethod
    def empty(cls, past: int, future: int) -> "NormalEquations":
        f64 = torch.float64
        return cls(
            torch.zeros(past + 1, past + 1, dtype=f64),
            torch.zeros(past + 1, future, dtype=f64),
            torch.zeros((), dtype=f64),
            torch.zeros((), dtype=f64),
        )

    def add(self, x: Tensor, y: Tensor, targets: list[int]) -> None:
        """x [B, past, F], y [B, future, T] scaled windows."""
        series = x[..., targets].transpose(1, 2).reshape(-1, x.shape[1]).double()  # [B*T, past]
        future = y.transpose(1, 2).reshape(-1, y.shape[1]).double()  # [B*T, future]
        last = series[:, -1:]
        a = torch.cat([series - last, torch.ones_like(last)], dim=1)  # [B*T, past + 1]
        t = future - last
        self.gram += a.T @ a
        self.cross += a.T @ t
        self.sq += (t * t).sum()
        self.rows += len(a)

    def summed(self, trainer: pl.Trainer) -> "NormalEquations":
        """Every rank's sums added (the identity on one process)."""
        gram, cross, sq, rows = (
            _sum(trainer, t) for t in (self.gram, self.cross, self.sq, self.rows)
        )
        return NormalEquations(gram, cross, sq, rows)

    def mse(self, w: Tensor) -> float:
        """Mean squared error of the map w [past + 1, future] over these rows and steps."""
        sse = (w * (self.gram @ w)).sum() - 2 * (w * self.cross).sum() + self.sq
        return float(sse / (self.rows * w.shape[1]))


def solve(train: NormalEquations, val: NormalEquations) -> tuple[Tensor, float]:
    """The ridge solution with the lowest validation MSE (the training one without windows)."""
    lags = torch.ones(len(train.gram), dtype=torch.float64)
    lags[-1] = 0.0  # the intercept is not shrunk
    # a tiny floor on every term: the centred last input is always zero, so A'A is singular
    floor = 1e-6 * torch.eye(len(train.gram), dtype=torch.float64)
    scored = []
    for ridge in RIDGES:
        penalty = torch.diag(ridge * float(train.rows) * lags) + floor
        w = torch.linalg.solve(train.gram + penalty, train.cross)
        scored.append(((val if float(val.rows) else train).mse(w), ridge, w))
    best = min(scored, key=lambda s: s[0])
    return best[2], best[1]


class ClosedFormStart(pl.Callback):
    """Solves the time-mixing map before training (a resumed run keeps its weights)."""

    def __init__(self, best: KeepBestWeights) -> None:
        self._best = best
        self.ridge: float | None = None  # the strength chosen, once solved

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.ckpt_path is not None:
            return
        assert isinstance(module, ThunderModule)
        net = module.architecture
        assert isinstance(net, XLSTMMixerNetwork) and net.cfg.target_inputs is not None
        targets = list(net.cfg.target_inputs)
        sums = []
        for loader in (trainer.train_dataloader, trainer.val_dataloaders):
            eq = NormalEquations.empty(net.cfg.past_steps, net.cfg.future_steps)
            for x, y in _batches(loader):
                eq.add(x, y, targets)
            sums.append(eq.summed(trainer))
        w, self.ridge = solve(*sums)
        net.set_time_mix(w[:-1].T.float(), w[-1].float())
        self._score_the_start(trainer, module)

    def _score_the_start(self, trainer: pl.Trainer, module: ThunderModule) -> None:
        """The start's validation loss, as the epochs' val_loss is computed, kept as the best."""
        total = torch.zeros((), dtype=torch.float64)
        count = torch.zeros((), dtype=torch.float64)
        was_training = module.training
        module.eval()
        # as the epochs' val_loss: under the run's precision (autocast in a mixed-precision run)
        with torch.no_grad(), trainer.precision_plugin.forward_context():
            for x, y in _batches(trainer.val_dataloaders):
                loss = module.criterion(module(x.to(module.device)), y.to(module.device))
                total += float(loss) * len(x)
                count += len(x)
        module.train(was_training)
        total, count = _sum(trainer, total), _sum(trainer, count)
        if float(count):
            self._best.keep(float(total / count), module)


def _sum(trainer: pl.Trainer, t: Tensor) -> Tensor:
    """t added over the ranks, back on the CPU. The sums live on the CPU; NCCL reduces only on
    the GPU, so a distributed run moves them to the rank's device for the reduction."""
    if trainer.world_size == 1:
        return t
    reduced: Tensor = trainer.strategy.reduce(t.to(trainer.strategy.root_device), reduce_op="sum")
    return reduced.cpu()


def _batches(loaders: Any) -> Iterable[tuple[Tensor, Tensor]]:
    """(x, y) from a loader, a list of loaders, or Lightning's combined loader."""
    if loaders is None:
        return
    for loader in loaders if isinstance(loaders, list | tuple) else [loaders]:
        for batch in loader:
            x, y = batch
            yield x, y
