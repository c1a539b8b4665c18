"""The optimiser and learning-rate schedule of thunder's own networks (plain callables)."""

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

# (one parameter group, learning rate) -> its optimiser
OptimizerFactory = Callable[[list[nn.Parameter], float], torch.optim.Optimizer]
# optimiser -> Lightning's lr_scheduler config ({"scheduler", "interval", ...}), or None
SchedulerFactory = Callable[[torch.optim.Optimizer], dict[str, Any] | None]


def adamw(params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    # fused: one kernel for all parameters instead of a dozen small ops per tensor (CPU and CUDA)
    return torch.optim.AdamW(params, lr=lr, fused=True)


def schedule(name: str, warmup_steps: int = 0, total_steps: int | None = None) -> SchedulerFactory:
    """training_config.lr_schedule: "none", "plateau" (halve after a flat val_loss epoch) or
    "cosine" (linear warm-up, then half a cosine down to 0 at total_steps)."""

    def make(opt: torch.optim.Optimizer) -> dict[str, Any] | None:
        if name == "plateau":
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
            # strict=False: with no validation windows there is no val_loss, and no reduction
            return {
                "scheduler": plateau,
                "monitor": "val_loss",
                "interval": "epoch",
                "strict": False,
            }
        if name == "cosine":
            factor = lambda step: cosine_factor(step, warmup_steps, total_steps)  # noqa: E731
            cosine = torch.optim.lr_scheduler.LambdaLR(opt, factor)
            return {"scheduler": cosine, "interval": "step"}
        return None

    return make


def cosine_factor(step: int, warmup_steps: int, total_steps: int | None) -> float:
    """Linear warm-up over warmup_steps, then half a cosine down to 0 at total_steps."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if not total_steps or total_steps <= warmup_steps:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))
