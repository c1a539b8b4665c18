import io
import math
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from thunder.domain.errors import ConfigError
from thunder.policy import (
    Cosine,
    Formula,
    Multiply,
    OneCycle,
    Policy,
    StepDecay,
    Switch,
    WarmUp,
)

BASE = 0.1
EPOCHS = 10


def sgd(*lrs: float) -> torch.optim.Optimizer:
    """SGD on a tiny linear layer, one param group per LR."""
    return torch.optim.SGD([{"params": nn.Linear(2, 1).parameters(), "lr": lr} for lr in lrs])


def trajectory(policy: Policy, opt: torch.optim.Optimizer, epochs: int = EPOCHS) -> list[float]:
    """The LR of group 0 at the start of each epoch, stepping as a training loop does."""
    bound = policy.bind(opt)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        bound.step()
    return lrs


def cosine(t: int, total: int, min_lr: float, warmup: int) -> float:
    if t < warmup:
        return BASE * (t + 1) / warmup
    p = min(1.0, (t - warmup) / (total - warmup))
    return min_lr + (BASE - min_lr) * 0.5 * (1 + math.cos(math.pi * p))


def one_cycle(t: int, total: int, max_lr: float, peak: int) -> float:
    """Half a cosine from BASE up to max_lr at `peak`, then down to BASE / 1e4 at total."""
    if t <= peak:
        return max_lr + (BASE - max_lr) * 0.5 * (1 + math.cos(math.pi * t / peak))
    p = min(1.0, (t - peak) / (total - peak))
    end = BASE / 1e4
    return end + (max_lr - end) * 0.5 * (1 + math.cos(math.pi * p))


EXPECTED = [
    (Switch({1: 0.001}), [BASE] + [0.001] * 9),
    (Switch({3: 0.05, 0: 0.2, 6: 0.01}), [0.2] * 3 + [0.05] * 3 + [0.01] * 4),
    (Multiply({3: 0.5}), [BASE] * 3 + [BASE * 0.5] * 7),
    (Multiply({4: 0.1, 7: 0.1}), [BASE] * 4 + [BASE * 0.1] * 3 + [BASE * 0.01] * 3),
    (WarmUp(4), [BASE * (t + 1) / 4 for t in range(4)] + [BASE] * 6),
    (WarmUp(2, start_factor=0.5), [BASE * 0.75, BASE] + [BASE] * 8),
    (WarmUp(2, then=Multiply({3: 0.1})), [BASE / 2, BASE, BASE, BASE, BASE] + [BASE * 0.1] * 5),
    (Cosine(8), [cosine(t, 8, 0.0, 0) for t in range(EPOCHS)]),
    (Cosine(8, min_lr=0.01, warmup=3), [cosine(t, 8, 0.01, 3) for t in range(EPOCHS)]),
    (Formula(lambda t: 0.1 * 0.9**t), [0.1 * 0.9**t for t in range(EPOCHS)]),
    (StepDecay(3, gamma=0.5), [BASE * 0.5 ** (t // 3) for t in range(EPOCHS)]),
    (OneCycle(8, max_lr=1.0, pct_start=0.25), [one_cycle(t, 8, 1.0, 2) for t in range(EPOCHS)]),
]


@pytest.mark.parametrize(
    ("policy", "expected"),
    EXPECTED,
    ids=[f"{type(p).__name__}-{i}" for i, (p, _) in enumerate(EXPECTED)],
)
def test_each_policy_follows_its_formula(policy: Policy, expected: list[float]) -> None:
    assert trajectory(policy, sgd(BASE)) == pytest.approx(expected)


def test_cosine_ends_at_min_lr_and_stays_there() -> None:
    lrs = trajectory(Cosine(4, min_lr=0.003), sgd(BASE))
    assert lrs[4:] == pytest.approx([0.003] * 6)


def test_one_cycle_peaks_at_max_lr_at_pct_start_and_ends_at_a_ten_thousandth() -> None:
    lrs = trajectory(OneCycle(20, max_lr=1.0, pct_start=0.3), sgd(BASE), epochs=25)
    assert max(lrs) == pytest.approx(1.0) and lrs.index(max(lrs)) == 6
    assert lrs[0] == pytest.approx(BASE)
    assert lrs[20:] == pytest.approx([BASE / 1e4] * 5)


def test_relative_policies_scale_each_group_and_absolute_ones_set_every_group() -> None:
    opt = sgd(0.1, 0.4)
    bound = Multiply({1: 0.5}).bind(opt)
    opt.step()
    bound.step()
    assert bound.get_last_lr() == pytest.approx([0.05, 0.2])
    opt = sgd(0.1, 0.4)
    bound = Switch({1: 0.003}).bind(opt)
    assert bound.get_last_lr() == pytest.approx([0.1, 0.4])  # before the first key: own LRs
    opt.step()
    bound.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.003, 0.003])


@pytest.mark.parametrize("action", ["step", "get_lr", "get_last_lr", "state_dict"])
def test_an_unbound_policy_says_how_to_bind_it(action: str) -> None:
    with pytest.raises(ConfigError, match=r"Cosine\..*ThunderModule.*\.bind\(optimizer\)"):
        getattr(Cosine(10), action)()


def test_bind_returns_a_copy_so_one_policy_drives_several_optimizers() -> None:
    policy = Multiply({1: 0.5})
    first, second = sgd(0.1), sgd(0.4)
    a, b = policy.bind(first), policy.bind(second)
    first.step()
    a.step()
    assert not policy.is_bound
    assert (a.optimizer, b.optimizer) == (first, second)
    assert a.get_last_lr() == pytest.approx([0.05])
    assert b.get_last_lr() == pytest.approx([0.4])  # b's counter did not move


def test_a_bound_policy_rebinds_to_its_own_optimizer_only() -> None:
    opt = sgd(BASE)
    bound = Switch({1: 0.01}).bind(opt)
    assert bound.bind(opt) is bound
    with pytest.raises(ConfigError, match="already bound to another optimizer"):
        bound.bind(sgd(BASE))


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Switch({}), "mapping"),
        (lambda: Switch({-1: 0.1}), "mapping"),
        (lambda: Switch({1.5: 0.1}), "mapping"),  # type: ignore[dict-item]
        (lambda: Switch({1: -0.1}), "mapping"),
        (lambda: Switch({1: float("nan")}), "mapping"),
        (lambda: Multiply({1: 0.0}), "mapping"),
        (lambda: Multiply({1: math.inf}), "mapping"),
        (lambda: WarmUp(0), "steps"),
        (lambda: WarmUp(True), "steps"),
        (lambda: WarmUp(3, start_factor=1.5), "start_factor"),
        (lambda: WarmUp(3, then=Cosine(5, interval="step")), "then"),
        (lambda: Cosine(0), "total"),
        (lambda: Cosine(5, warmup=5), "warmup"),
        (lambda: Cosine(5, min_lr=-1.0), "min_lr"),
        (lambda: Formula(0.1), "fn"),  # type: ignore[arg-type]
        (lambda: Cosine(5, interval="batch"), "interval"),
        (lambda: StepDecay(0), "step_size"),
        (lambda: StepDecay(2, gamma=0.0), "gamma"),
        (lambda: OneCycle(1, max_lr=0.1), "total"),
        (lambda: OneCycle(10, max_lr=-0.1), "max_lr"),
        (lambda: OneCycle(10, max_lr=0.1, pct_start=1.0), "pct_start"),
    ],
)
def test_a_bad_argument_is_a_config_error_naming_its_field(make: Any, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make()
    assert (caught.value.field or "").startswith(field)


def test_a_formula_returning_a_bad_lr_stops_at_that_epoch() -> None:
    opt = sgd(BASE)
    bound = Formula(lambda t: 0.1 if t < 2 else float("nan")).bind(opt)
    opt.step()
    bound.step()
    with pytest.raises(ConfigError, match=r"fn\(2\) must be an LR >= 0, got nan"):
        bound.step()


@pytest.mark.parametrize(
    "policy",
    [Cosine(8, warmup=2), Multiply({2: 0.5, 5: 0.5}), Formula(lambda t: 0.1 / (t + 1))],
    ids=["cosine", "multiply", "formula"],
)
def test_a_restored_policy_continues_the_same_lr_sequence(policy: Policy) -> None:
    uninterrupted = trajectory(policy, sgd(BASE))
    opt = sgd(BASE)
    first = policy.bind(opt)
    for _ in range(4):
        opt.step()
        first.step()
    saved = io.BytesIO()
    torch.save(first.state_dict(), saved)
    saved.seek(0)
    state = torch.load(saved, weights_only=True)  # plain values only: no function, no optimizer

    fresh_opt = sgd(BASE)
    resumed = policy.bind(fresh_opt)
    resumed.load_state_dict(state)
    fresh_opt.param_groups[0]["lr"] = resumed.get_last_lr()[0]  # as the optimizer state would
    rest = []
    for _ in range(EPOCHS - 4):
        rest.append(fresh_opt.param_groups[0]["lr"])
        fresh_opt.step()
        resumed.step()
    assert rest == pytest.approx(uninterrupted[4:])


class Tiny(pl.LightningModule):
    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.layer, self.policy = nn.Linear(2, 1), policy

    def training_step(self, batch: list[torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=BASE)
        scheduler = {"scheduler": self.policy.bind(opt), "interval": self.policy.interval}
        return {"optimizer": opt, "lr_scheduler": scheduler}


class EpochLRs(pl.Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def fit(
    policy: Policy, epochs: int, ckpt_path: Path | None = None
) -> tuple[pl.Trainer, list[float]]:
    """A tiny CPU fit; the LR at the start of each epoch it ran."""
    seen = EpochLRs()
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        callbacks=[seen],
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        enable_checkpointing=False,
    )
    data = TensorDataset(torch.randn(8, 2), torch.randn(8, 1))
    # weights_only: the scheduler's state must load without unpickling code
    loader = DataLoader(data, batch_size=4)
    trainer.fit(Tiny(policy), loader, ckpt_path=ckpt_path, weights_only=ckpt_path is not None)
    return trainer, seen.lrs


def test_lightning_applies_the_policy_each_epoch() -> None:
    _, lrs = fit(Switch({1: 0.01, 3: 0.001}), epochs=4)
    assert lrs == pytest.approx([BASE, 0.01, 0.01, 0.001])


def test_a_lightning_checkpoint_resumes_a_formula_where_it_stopped(tmp_path: Path) -> None:
    policy = Formula(lambda t: 0.1 / (t + 1))  # a lambda: the checkpoint cannot pickle it
    trainer, _ = fit(policy, epochs=2)
    trainer.save_checkpoint(tmp_path / "two.ckpt")
    _, lrs = fit(policy, epochs=4, ckpt_path=tmp_path / "two.ckpt")
    assert lrs == pytest.approx([0.1 / 3, 0.1 / 4])
