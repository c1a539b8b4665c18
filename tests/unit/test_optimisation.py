"""training_config's optimisation controls change training: accumulation, clipping by value, the
optimiser and its weight decay, each schedule's LR trajectory (read back from the LR monitor's
metrics.csv), and a resumed schedule."""

import csv
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from tests.unit.conftest import tiny_network
from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.adapters.lightning.module import ThunderModule
from thunder.domain.errors import ConfigError
from thunder.domain.training import (
    NetworkConfig,
    Optimisation,
    OptimizerConfig,
    ScheduleConfig,
    TrainingOptions,
)
from thunder.domain.values import FitResult, WindowBatch

# the automatic path (one parameter group) and the manual one (the TFT's two optimisers)
PATHS = ["xlstm", "tft"]


def network(architecture: str) -> NetworkConfig:
    return tiny_network(architecture, hidden_size=8, num_layers=1, block_pattern="m")


def windows(n: int, seed: int = 0) -> list[WindowBatch]:
    x = np.random.default_rng(seed).normal(size=(n, 16, 2)).astype(np.float32)
    return [WindowBatch(x=x, y=x[:, -4:, :1] * 0.5, history=x)]


class Steps(pl.Callback):
    """Reads each optimiser's gradients right after it stepped: what the step applied, after
    any clipping (on_before_optimizer_step fires before Lightning clips)."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.largest: list[float] = []  # the largest gradient element of each step
        self.norms: list[float] = []  # each step's gradient norm

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.counts = [0] * len(trainer.optimizers)
        for i, opt in enumerate(trainer.optimizers):
            opt.register_step_post_hook(lambda o, *_, i=i: self._read(i, o))

    def _read(self, i: int, opt: torch.optim.Optimizer) -> None:
        self.counts[i] += 1
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        self.largest.append(max(float(g.abs().max()) for g in grads))
        self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))


def fit(
    architecture: str,
    train: list[WindowBatch],
    *,
    epochs: int = 1,
    batch_size: int = 16,
    val: list[WindowBatch] | None = None,
    callbacks: tuple[object, ...] = (),
    log_dir: Path | None = None,
    **optimisation: Any,
) -> tuple[LightningForecaster, FitResult]:
    options = TrainingOptions(
        epochs=epochs,
        batch_size=batch_size,
        optimisation=Optimisation(**optimisation),
        callbacks=callbacks,
        log_dir=str(log_dir) if log_dir else None,
    )
    forecaster = LightningForecaster(network(architecture), options)
    n = sum(len(w.x) for w in train)
    return forecaster, forecaster.fit(train, val or [], train_windows=n)


@pytest.mark.parametrize("architecture", PATHS)
def test_accumulating_4_batches_takes_a_quarter_of_the_optimizer_steps(architecture: str) -> None:
    counted = {}
    for k in (1, 4):
        steps = Steps()
        forecaster, result = fit(
            architecture, windows(256), callbacks=(steps,), accumulate_grad_batches=k
        )
        counted[k] = (result.steps, steps.counts)
    assert forecaster._module.automatic_optimization == (architecture == "xlstm")
    groups = 1 if architecture == "xlstm" else 2
    assert counted[1] == (16, [16] * groups)  # 16 batches
    assert counted[4] == (4, [4] * groups)


@pytest.mark.parametrize("architecture", PATHS)
def test_an_epochs_remainder_of_batches_still_makes_a_step(architecture: str) -> None:
    steps = Steps()
    _, result = fit(
        architecture, windows(160), epochs=2, callbacks=(steps,), accumulate_grad_batches=4
    )
    assert result.steps == 6  # 10 batches an epoch: 4 + 4 + 2
    assert set(steps.counts) == {6}


@pytest.mark.parametrize("architecture", PATHS)
def test_an_accumulated_step_is_one_step_on_the_four_batches_together(architecture: str) -> None:
    sgd = OptimizerConfig(name="sgd", weight_decay=0.0)
    pl.seed_everything(TrainingOptions().seed, verbose=False)  # as fit does: its first weights
    start = LightningForecaster(network(architecture), TrainingOptions())._net.state_dict()
    four, _ = fit(
        architecture, windows(64), optimizer=sgd, learning_rate=0.5, accumulate_grad_batches=4
    )
    whole, _ = fit(architecture, windows(64), batch_size=64, optimizer=sgd, learning_rate=0.5)
    steps, _ = fit(architecture, windows(64), optimizer=sgd, learning_rate=0.5)
    a, b, c = (f._net.state_dict() for f in (four, whole, steps))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6, msg=key)
    assert any(not torch.allclose(start[k], a[k], atol=1e-4) for k in a)  # the step moved them
    # four steps of one batch each land elsewhere: the comparison can tell them apart
    assert any(not torch.allclose(c[k], b[k], atol=1e-4) for k in a)


@pytest.mark.parametrize("architecture", PATHS)
def test_value_clipping_bounds_every_gradient_element(architecture: str) -> None:
    bound = 1e-3
    free, clipped = Steps(), Steps()
    fit(architecture, windows(64), callbacks=(free,))
    fit(
        architecture,
        windows(64),
        callbacks=(clipped,),
        gradient_clip_val=bound,
        gradient_clip_algorithm="value",
    )
    assert max(free.largest) > 10 * bound  # unclipped, the gradients are far larger
    assert max(clipped.largest) <= bound * (1 + 1e-6)
    # by value, not by norm: the clipped gradients' norm is still above the bound
    assert min(clipped.norms) > bound


def weights_norm(forecaster: LightningForecaster) -> float:
    weights = nn.utils.parameters_to_vector(forecaster._net.parameters()).detach()
    return float(torch.linalg.vector_norm(weights))


@pytest.mark.parametrize(
    ("name", "lr", "extra"),
    [("adamw", 1e-2, {}), ("adam", 1e-2, {"betas": (0.8, 0.99)}), ("sgd", 0.05, {"momentum": 0.9})],
)
def test_weight_decay_shrinks_the_weights(name: str, lr: float, extra: dict[str, Any]) -> None:
    norms = []
    for decay in (0.0, 1.0):
        chosen = OptimizerConfig(name=name, weight_decay=decay, **extra)
        forecaster, _ = fit("xlstm", windows(320), optimizer=chosen, learning_rate=lr)
        opt = forecaster._module.trainer.optimizers[0]
        assert type(opt).__name__.lower() == name
        group = opt.param_groups[0]
        assert group["weight_decay"] == decay
        assert all(group[key] == value for key, value in extra.items())
        norms.append(weights_norm(forecaster))
    assert norms[1] < 0.95 * norms[0]


def test_the_default_optimizer_is_thunders_fused_adamw_with_torchs_weight_decay() -> None:
    forecaster, _ = fit("xlstm", windows(16))
    opt = forecaster._module.trainer.optimizers[0]
    assert type(opt) is torch.optim.AdamW
    group = opt.param_groups[0]
    assert (group["weight_decay"], group["betas"], group["eps"], group["fused"]) == (
        0.01,
        (0.9, 0.999),
        1e-8,
        True,
    )


def logged_lrs(result: FitResult, column: str = "lr-AdamW") -> list[tuple[int, float]]:
    """(optimizer step, LR) as the LR monitor wrote them into the CSV log."""
    assert result.log_dir is not None
    with (Path(result.log_dir) / "metrics.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r.get(column)]
    return [(int(r["step"]), float(r[column])) for r in rows]


def final_lr(forecaster: LightningForecaster) -> float:
    return float(forecaster._module.trainer.optimizers[0].param_groups[0]["lr"])


def test_step_schedule_decays_by_gamma_every_step_size(tmp_path: Path) -> None:
    step = ScheduleConfig(name="step", step_size=10, gamma=0.5)
    forecaster, result = fit(
        "xlstm", windows(256), epochs=3, log_dir=tmp_path, lr_schedule=step, learning_rate=1e-3
    )
    logged = logged_lrs(result)
    assert len({lr for _, lr in logged}) >= 3  # several decays seen
    for t, lr in logged:
        assert lr == pytest.approx(1e-3 * 0.5 ** (t // 10), rel=1e-6), t
    assert final_lr(forecaster) == pytest.approx(1e-3 * 0.5 ** (48 // 10))  # 48 steps


def test_cosine_schedule_warms_up_then_falls_to_min_lr(tmp_path: Path) -> None:
    cosine = ScheduleConfig(name="cosine", warmup_steps=5, min_lr=1e-4)
    forecaster, result = fit(
        "xlstm", windows(256), epochs=3, log_dir=tmp_path, lr_schedule=cosine, learning_rate=1e-3
    )

    def expected(t: int) -> float:
        if t < 5:
            return 1e-3 * (t + 1) / 5
        return 1e-4 + (1e-3 - 1e-4) * 0.5 * (1 + math.cos(math.pi * (t - 5) / (48 - 5)))

    logged = logged_lrs(result)
    assert len(logged) >= 3
    for t, lr in logged:
        assert lr == pytest.approx(expected(t), rel=1e-6), t
    assert final_lr(forecaster) == pytest.approx(1e-4)  # at the run's last step


def test_under_accumulation_a_schedule_counts_optimizer_steps_on_every_optimizer() -> None:
    cosine = ScheduleConfig(name="cosine", min_lr=1e-5)
    # 4 batches an epoch, 2 per step: 6 steps in 3 epochs, where cosine must reach min_lr
    forecaster, result = fit(
        "tft", windows(64), epochs=3, lr_schedule=cosine, accumulate_grad_batches=2
    )
    assert result.steps == 6
    optimizers = forecaster._module.trainer.optimizers
    assert [o.param_groups[0]["lr"] for o in optimizers] == pytest.approx([1e-5, 1e-5])


def test_one_cycle_peaks_at_max_lr_at_pct_start(tmp_path: Path) -> None:
    cycle = ScheduleConfig(name="one_cycle", max_lr=1e-2, pct_start=0.3)
    forecaster, result = fit(
        "xlstm", windows(256), epochs=6, log_dir=tmp_path, lr_schedule=cycle, learning_rate=1e-3
    )
    logged = dict(logged_lrs(result))  # 96 steps: the peak at round(0.3 * 96) = 29
    assert max(logged.values()) == pytest.approx(1e-2) and logged[29] == pytest.approx(1e-2)
    steps = sorted(logged)
    rising, falling = [s for s in steps if s <= 29], [s for s in steps if s >= 29]
    assert all(logged[a] < logged[b] for a, b in itertools.pairwise(rising))
    assert all(logged[a] > logged[b] for a, b in itertools.pairwise(falling))
    assert final_lr(forecaster) == pytest.approx(1e-3 / 1e4)


def test_plateau_divides_by_factor_after_patience_flat_epochs_down_to_min_lr(
    tmp_path: Path,
) -> None:
    # SGD at 1e-6 barely moves the weights: every val_loss after the first is flat
    plateau = ScheduleConfig(name="plateau", factor=0.1, patience=1, min_lr=2e-8)
    sgd = OptimizerConfig(name="sgd", weight_decay=0.0)
    _, result = fit(
        "xlstm",
        windows(160),
        val=windows(64, seed=1),
        epochs=7,
        log_dir=tmp_path,
        lr_schedule=plateau,
        optimizer=sgd,
        learning_rate=1e-6,
    )
    logged = logged_lrs(result, "lr-SGD")
    assert len(logged) == 7  # one row an epoch (10 steps each)
    # epoch 0 sets the best; reductions after epochs 2 and 4 (patience 1: the 2nd flat epoch)
    by_epoch = [lr for _, lr in sorted(logged)]
    assert by_epoch == pytest.approx([1e-6] * 3 + [1e-7] * 2 + [2e-8] * 2, rel=1e-6)


class Interrupted(Exception):
    pass


class StopInEpoch(pl.Callback):
    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.current_epoch == 1:
            raise Interrupted


def test_a_resumed_run_continues_its_schedule(tmp_path: Path) -> None:
    step = ScheduleConfig(name="step", step_size=5, gamma=0.5)

    def options(*callbacks: object) -> TrainingOptions:
        optimisation = Optimisation(lr_schedule=step, learning_rate=1e-3)
        return TrainingOptions(
            epochs=3,
            batch_size=16,
            optimisation=optimisation,
            checkpoint_dir=str(tmp_path),
            callbacks=callbacks,
        )

    def run(opts: TrainingOptions, resume: bool = False) -> LightningForecaster:
        forecaster = LightningForecaster(network("xlstm"), opts)
        forecaster.fit(windows(64), windows(32, 1), run_id="r", resume=resume)
        return forecaster

    straight = final_lr(run(options()))
    with pytest.raises(Interrupted):
        run(options(StopInEpoch()))
    resumed = final_lr(run(options(), resume=True))
    assert straight == resumed == pytest.approx(1e-3 * 0.5 ** (12 // 5))  # 12 steps


def test_a_users_module_with_training_config_optimizer_or_schedule_is_refused_before_training() -> (
    None
):
    arch = nn.Sequential(nn.Flatten(), nn.Linear(16 * 2, 4), nn.Unflatten(1, (4, 1)))
    module = ThunderModule(arch, nn.MSELoss(), optimizer=torch.optim.SGD(arch.parameters(), 0.1))
    options = TrainingOptions(optimisation=Optimisation(optimizer=OptimizerConfig(name="adam")))
    with pytest.raises(ConfigError, match=r"training_config\.optimizer applies to thunder's own"):
        LightningForecaster(network("xlstm"), options, module=module)
    options = TrainingOptions(optimisation=Optimisation(lr_schedule="cosine"))
    with pytest.raises(ConfigError, match=r"training_config\.lr_schedule applies to thunder's own"):
        LightningForecaster(network("xlstm"), options, module=module)


def test_a_manual_users_module_is_told_to_accumulate_itself() -> None:
    arch = nn.Sequential(nn.Flatten(), nn.Linear(16 * 2, 4), nn.Unflatten(1, (4, 1)))
    opts = [torch.optim.SGD([p], lr=0.1) for p in arch.parameters()]  # two: manual
    module = ThunderModule(arch, nn.MSELoss(), optimizer=opts)
    options = TrainingOptions(optimisation=Optimisation(accumulate_grad_batches=2))
    with pytest.raises(ConfigError, match="pass accumulate_grad_batches=2 to it"):
        LightningForecaster(network("xlstm"), options, module=module)
