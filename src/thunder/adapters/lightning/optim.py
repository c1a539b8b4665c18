"""The optimiser and learning-rate schedule of thunder's own networks, built from the domain's
OptimizerConfig and ScheduleConfig (training_config.optimizer, training_config.lr_schedule)."""

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from thunder.adapters.lightning.policy import Cosine, OneCycle, Policy, StepDecay, WarmUp
from thunder.domain.training import OptimizerConfig, ScheduleConfig

# (one parameter group, learning rate) -> its optimiser
OptimizerFactory = Callable[[list[nn.Parameter], float], torch.optim.Optimizer]
# optimiser -> Lightning's lr_scheduler config ({"scheduler", "interval", ...}), or None
SchedulerFactory = Callable[[torch.optim.Optimizer], dict[str, Any] | None]


def optimizer(config: OptimizerConfig) -> OptimizerFactory:
    """training_config.optimizer: adamw (the default), adam or sgd."""

    def make(params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
        c = config
        if c.name == "sgd":
            return torch.optim.SGD(
                params, lr=lr, momentum=c.momentum, nesterov=c.nesterov, weight_decay=c.weight_decay
            )
        kind = torch.optim.Adam if c.name == "adam" else torch.optim.AdamW
        # fused: one kernel for all parameters instead of a dozen small ops per tensor
        return kind(
            params, lr=lr, betas=c.betas, eps=c.eps, weight_decay=c.weight_decay, fused=True
        )

    return make


def schedule(config: ScheduleConfig, total_steps: int | None = None) -> SchedulerFactory:
    """training_config.lr_schedule on one optimiser; `total_steps` counts optimiser steps (the
    end of cosine and one_cycle; unknown: cosine stays at the rate after its warm-up)."""

    def make(opt: torch.optim.Optimizer) -> dict[str, Any] | None:
        if config.name == "plateau":
            # torch's: it follows val_loss, which no closed form can
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, factor=config.factor, patience=config.patience, min_lr=config.min_lr
            )
            # strict=False: with no validation windows there is no val_loss, and no reduction
            return {
                "scheduler": plateau,
                "monitor": "val_loss",
                "interval": "epoch",
                "strict": False,
            }
        policy = _policy(config, total_steps)
        return {"scheduler": policy.bind(opt), "interval": "step"} if policy else None

    return make


def _policy(config: ScheduleConfig, total: int | None) -> Policy | None:
    """The closed-form schedules, counted in optimiser steps."""
    warmup = config.warmup_steps
    if config.name == "step":
        return StepDecay(config.step_size, config.gamma, interval="step")
    if config.name == "one_cycle" and total is not None and total >= 2:
        return OneCycle(total, config.max_lr, config.pct_start, interval="step")
    if config.name != "cosine":
        return None
    if total is not None and total > warmup:
        return Cosine(total, config.min_lr, warmup, interval="step")
    # too short (or of unknown length) to decay: the warm-up alone, then the base rate
    return WarmUp(warmup, interval="step") if warmup else None
