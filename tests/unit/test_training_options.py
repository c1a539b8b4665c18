import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.adapters.lightning.optim import schedule
from thunder.domain.training import (
    EarlyStopping,
    NetworkConfig,
    Optimisation,
    ScheduleConfig,
    TrainingOptions,
)
from thunder.domain.values import WindowBatch

NET = NetworkConfig(
    num_features=1,
    num_targets=1,
    past_steps=8,
    future_steps=2,
    hidden_size=8,
    num_layers=1,
    num_heads=2,
    block_pattern="m",
    target_inputs=(0,),
)


def windows(n: int, seed: int) -> list[WindowBatch]:
    x = np.random.default_rng(seed).normal(size=(n, 8, 1)).astype(np.float32)
    return [WindowBatch(x=x, y=x[:, -2:], history=x)]


def test_cosine_schedule_warms_up_then_decays_to_zero() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    config = schedule(ScheduleConfig(name="cosine", warmup_steps=4), total_steps=20)(opt)
    assert config is not None and config["interval"] == "step"
    factors = []
    for _ in range(21):
        factors.append(opt.param_groups[0]["lr"])
        opt.step()
        config["scheduler"].step()
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == pytest.approx(1.0)
    assert factors[12] == pytest.approx(0.5)
    assert factors[20] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in itertools.pairwise(factors[4:]))


def test_early_stopping_ends_training_when_val_loss_stops_improving() -> None:
    options = TrainingOptions(
        epochs=10, batch_size=16, early_stopping=EarlyStopping(patience=1, min_delta=1e6)
    )
    fit = LightningForecaster(NET, options).fit(windows(64, 0), windows(32, 1), train_windows=64)
    # epoch 1 sets the best val_loss; epoch 2 cannot beat it by 1e6: stop
    assert fit.epochs == 2


@pytest.mark.parametrize("schedule", ["plateau", "cosine"])
def test_schedules_and_clipping_train_with_and_without_validation(schedule: str) -> None:
    optimisation = Optimisation(lr_schedule=schedule, warmup_steps=2, gradient_clip_val=0.5)
    options = TrainingOptions(epochs=2, batch_size=16, optimisation=optimisation)
    for val in (windows(32, 1), []):
        fit = LightningForecaster(NET, options).fit(windows(64, 0), val, train_windows=64)
        assert fit.steps == 8 and fit.epochs == 2


def test_training_metrics_are_written_as_csv(tmp_path: Path) -> None:
    options = TrainingOptions(epochs=1, batch_size=16, log_dir=str(tmp_path))
    # 16 steps: past the logger's every-10-steps interval
    fit = LightningForecaster(NET, options).fit(windows(256, 0), windows(32, 1), train_windows=256)
    assert fit.log_dir is not None
    header = (Path(fit.log_dir) / "metrics.csv").read_text().splitlines()[0]
    assert "train_loss" in header and "val_loss" in header


class Interrupted(Exception):
    pass


def test_resume_continues_an_interrupted_run_from_its_last_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thunder.adapters.lightning.module import ThunderModule as Module
    from thunder.domain.errors import NothingToResume

    options = TrainingOptions(epochs=3, batch_size=16, checkpoint_dir=str(tmp_path))
    with pytest.raises(NothingToResume, match="start without --resume"):
        LightningForecaster(NET, options).fit(
            windows(64, 0), windows(32, 1), run_id="r", resume=True
        )

    def stop_in_epoch_2(self: Module) -> None:
        if self.current_epoch == 1:
            raise Interrupted

    monkeypatch.setattr(Module, "on_train_epoch_start", stop_in_epoch_2, raising=False)
    with pytest.raises(Interrupted):
        LightningForecaster(NET, options).fit(windows(64, 0), windows(32, 1), run_id="r")
    assert (tmp_path / "r" / "last.ckpt").exists()
    monkeypatch.undo()

    fit = LightningForecaster(NET, options).fit(
        windows(64, 0), windows(32, 1), run_id="r", resume=True
    )
    assert (fit.epochs, fit.steps) == (3, 12)  # epoch 1 from the checkpoint, epochs 2-3 now
    assert fit.windows_seen == 2 * 64
    assert not (tmp_path / "r").exists()  # a finished run leaves no checkpoints behind


def test_find_lr_trains_with_the_range_tests_suggestion_reproducibly() -> None:
    options = TrainingOptions(
        epochs=3, batch_size=16, find_lr=True, optimisation=Optimisation(learning_rate=123.0)
    )
    fits = [
        LightningForecaster(NET, options).fit(windows(512, 0), windows(32, 1), train_windows=512)
        for _ in range(2)
    ]
    assert fits[0].lr_found
    assert fits[0].learning_rate is not None and 1e-6 <= fits[0].learning_rate <= 1.0
    assert fits[0].learning_rate == fits[1].learning_rate
    assert fits[0].best_val_loss == fits[1].best_val_loss
    # the range test's 100 steps are not counted as training
    assert fits[0].steps == 3 * 32


def test_a_progress_bar_run_trains_the_same() -> None:
    options = TrainingOptions(epochs=1, batch_size=16)
    quiet = LightningForecaster(NET, options).fit(windows(64, 0), [], train_windows=64)
    shown = LightningForecaster(NET, TrainingOptions(epochs=1, batch_size=16, progress=True))
    assert shown.fit(windows(64, 0), [], train_windows=64).steps == quiet.steps
