"""Learning-rate policies: torch schedulers written before their optimizer exists.

Each policy is a closed form, lr(t, base) for counter t (the epoch, or the step with
interval="step") and a param group's initial LR `base`, so a restored counter is all a resumed
run needs: the state dict holds plain numbers, never the policy's function.
"""

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any, Self

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from thunder.domain.errors import ConfigError

INTERVALS = ("epoch", "step")
# what a checkpoint keeps: the counters and the LRs, never the optimizer or a function
_STATE = ("last_epoch", "_step_count", "base_lrs", "_last_lr")


class Policy(LRScheduler):
    """Base of the policies. Built with its own parameters only; `bind` attaches an optimizer.

    `bind` returns a bound copy and leaves the policy itself unbound, so one policy written once
    can drive several optimizers, each copy with its own counter.
    """

    def __init__(self, *, interval: str = "epoch") -> None:
        # LRScheduler.__init__ waits for bind: it needs the optimizer's param groups
        _require(self, interval in INTERVALS, "interval", "'epoch' or 'step'", interval)
        self.interval = interval

    @property
    def _name(self) -> str:
        return type(self).__name__

    @property
    def is_bound(self) -> bool:
        """True for the copy `bind` returned, False for the policy as written."""
        return "optimizer" in vars(self)

    def bind(self, optimizer: Optimizer) -> Self:
        """A copy of this policy driving `optimizer`; its base LRs are the param groups' LRs."""
        if self.is_bound:
            if self.optimizer is optimizer:
                return self
            raise ConfigError(
                f"{self._name} is already bound to another optimizer: bind the policy as "
                f"written (the object you constructed) once per optimizer",
                field="lr_scheduler",
            )
        bound = copy.copy(self)
        LRScheduler.__init__(bound, optimizer)
        return bound

    def lr_at(self, t: int, base: float) -> float:
        """The LR at counter t for a param group whose initial LR is base."""
        raise NotImplementedError

    def get_lr(self) -> list[float | Tensor]:
        self._require_bound("get_lr")
        return [self.lr_at(self.last_epoch, float(base)) for base in self.base_lrs]

    def step(self, epoch: int | None = None) -> None:
        self._require_bound("step")
        super().step(epoch)

    def get_last_lr(self) -> list[float | Tensor]:
        self._require_bound("get_last_lr")
        return super().get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """The counters and LRs only: plain values, so torch.load(weights_only=True) reads them."""
        self._require_bound("state_dict")
        return {key: getattr(self, key) for key in _STATE}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._require_bound("load_state_dict")
        ok = all(key in state_dict for key in _STATE)
        _require(
            self, ok, "state_dict", f"a scheduler state with keys {_STATE}", sorted(state_dict)
        )
        # only our keys: the rest of a state torch's LRScheduler saved (a function, say) is not ours
        vars(self).update({key: state_dict[key] for key in _STATE})

    def _require_bound(self, action: str) -> None:
        if not self.is_bound:
            raise ConfigError(
                f"{self._name}.{action}(): the policy is not bound to an optimizer; pass it to "
                f"ThunderModule, or call .bind(optimizer) and use the policy it returns",
                field="lr_scheduler",
            )


class Switch(Policy):
    """Absolute LRs: lr(t) = mapping[k] for the largest key k <= t, the same value on every
    param group; before the first key, each group keeps its initial LR."""

    def __init__(self, mapping: Mapping[int, float], *, interval: str = "epoch") -> None:
        super().__init__(interval=interval)
        self.points = _points(self, mapping, lambda lr: lr >= 0, "an LR >= 0")

    def lr_at(self, t: int, base: float) -> float:
        lr = base
        for k, value in self.points:
            if k <= t:
                lr = value
        return lr


class Multiply(Policy):
    """Step decay: lr(t) = base * (product of mapping[k] for every key k <= t), so
    `{10: 0.1, 20: 0.1}` gives `base`, `base * 0.1` from 10, `base * 0.01` from 20."""

    def __init__(self, mapping: Mapping[int, float], *, interval: str = "epoch") -> None:
        super().__init__(interval=interval)
        self.points = _points(self, mapping, lambda f: f > 0, "a factor > 0")

    def lr_at(self, t: int, base: float) -> float:
        return base * math.prod(f for k, f in self.points if k <= t)


class WarmUp(Policy):
    """Linear warm-up: lr(t) = base * (s + (1 - s) * (t + 1) / steps) for t < steps (s is
    start_factor), so step 0 already trains and the LR reaches base at t = steps - 1. After
    that, `then`'s LR counted from the end of the warm-up, or base without one."""

    def __init__(
        self,
        steps: int,
        start_factor: float = 0.0,
        *,
        then: Policy | None = None,
        interval: str = "epoch",
    ) -> None:
        super().__init__(interval=interval)
        _require(self, _int(steps) and steps >= 1, "steps", "an int >= 1", steps)
        ok = _real(start_factor) and 0 <= start_factor <= 1
        _require(self, ok, "start_factor", "a number in [0, 1]", start_factor)
        ok = then is None or (isinstance(then, Policy) and then.interval == interval)
        _require(self, ok, "then", f"a policy with interval={interval!r}", then)
        self.steps, self.start_factor, self.then = steps, float(start_factor), then

    def lr_at(self, t: int, base: float) -> float:
        if t < self.steps:
            return base * _ramp(t, self.steps, self.start_factor)
        return self.then.lr_at(t - self.steps, base) if self.then else base


class Cosine(Policy):
    """Linear warm-up over `warmup` (as WarmUp from 0), then half a cosine:
    lr(t) = min_lr + (base - min_lr) * (1 + cos(pi * (t - warmup) / (total - warmup))) / 2,
    reaching min_lr at t = total and staying there. min_lr is absolute, the same for every
    param group."""

    def __init__(
        self, total: int, min_lr: float = 0.0, warmup: int = 0, *, interval: str = "epoch"
    ) -> None:
        super().__init__(interval=interval)
        _require(self, _int(total) and total >= 1, "total", "an int >= 1", total)
        ok = _int(warmup) and 0 <= warmup < total
        _require(self, ok, "warmup", f"an int in [0, total={total})", warmup)
        _require(self, _real(min_lr) and min_lr >= 0, "min_lr", "a number >= 0", min_lr)
        self.total, self.warmup, self.min_lr = total, warmup, float(min_lr)

    def lr_at(self, t: int, base: float) -> float:
        if t < self.warmup:
            return base * _ramp(t, self.warmup, 0.0)
        progress = min(1.0, (t - self.warmup) / (self.total - self.warmup))
        return self.min_lr + (base - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class StepDecay(Policy):
    """Step decay without end: lr(t) = base * gamma ** (t // step_size), torch's StepLR as a
    closed form (Multiply names each point; this repeats one)."""

    def __init__(self, step_size: int, gamma: float = 0.1, *, interval: str = "epoch") -> None:
        super().__init__(interval=interval)
        ok = _int(step_size) and step_size >= 1
        _require(self, ok, "step_size", "an int >= 1", step_size)
        _require(self, _real(gamma) and gamma > 0, "gamma", "a number > 0", gamma)
        self.step_size, self.gamma = step_size, float(gamma)

    def lr_at(self, t: int, base: float) -> float:
        return base * self.gamma ** (t // self.step_size)


class OneCycle(Policy):
    """One cycle over `total`: half a cosine up from base to max_lr at t = pct_start * total,
    then half a cosine down to base / 1e4 (torch's final_div_factor) at t = total, staying
    there. Unlike torch's OneCycleLR it starts at the group's own rate, not max_lr / 25."""

    def __init__(
        self, total: int, max_lr: float, pct_start: float = 0.3, *, interval: str = "epoch"
    ) -> None:
        super().__init__(interval=interval)
        _require(self, _int(total) and total >= 2, "total", "an int >= 2", total)
        _require(self, _real(max_lr) and max_lr > 0, "max_lr", "a number > 0", max_lr)
        ok = _real(pct_start) and 0 < pct_start < 1
        _require(self, ok, "pct_start", "a number in (0, 1)", pct_start)
        self.total, self.max_lr, self.pct_start = total, float(max_lr), float(pct_start)
        self.peak = min(total - 1, max(1, round(pct_start * total)))

    def lr_at(self, t: int, base: float) -> float:
        if t <= self.peak:
            return _cosine_between(base, self.max_lr, t / self.peak)
        progress = min(1.0, (t - self.peak) / (self.total - self.peak))
        return _cosine_between(self.max_lr, base / 1e4, progress)


class Formula(Policy):
    """Any absolute schedule: lr(t) = fn(t), the same on every param group. The function is not
    saved (a lambda cannot be pickled): a resumed run restores the counter and calls it again."""

    def __init__(self, fn: Callable[[int], float], *, interval: str = "epoch") -> None:
        super().__init__(interval=interval)
        _require(self, callable(fn), "fn", "a callable epoch -> LR", fn)
        self.fn = fn

    def lr_at(self, t: int, base: float) -> float:
        lr = self.fn(t)
        # a NaN or negative LR would silently wreck the weights: stop at the first one
        _require(self, _real(lr) and lr >= 0, f"fn({t})", "an LR >= 0", lr)
        return float(lr)


def _cosine_between(start: float, end: float, progress: float) -> float:
    """start at progress 0, end at 1, along half a cosine."""
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _ramp(t: int, steps: int, start: float) -> float:
    return start + (1.0 - start) * (t + 1) / steps


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _real(value: object) -> bool:
    # bool is an int to Python, never an LR or a count to a user
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _require(policy: Policy, ok: bool, field: str, must: str, got: object) -> None:
    if not ok:
        name = type(policy).__name__
        raise ConfigError(f"{name}: {field} must be {must}, got {got!r}", field=field)


def _points(
    policy: Policy, mapping: Mapping[int, float], valid: Callable[[float], bool], what: str
) -> tuple[tuple[int, float], ...]:
    """The mapping as sorted (counter, value) pairs, each checked."""
    ok = isinstance(mapping, Mapping) and len(mapping) > 0
    _require(policy, ok, "mapping", "a non-empty dict {epoch: value}", mapping)
    for k, v in mapping.items():
        _require(policy, _int(k) and k >= 0, "mapping", "keyed by ints >= 0", k)
        _require(policy, _real(v) and valid(v), f"mapping[{k}]", what, v)
    return tuple(sorted((k, float(v)) for k, v in mapping.items()))
