import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, small_config
from thunder.app.settings import load_settings
from thunder.app.training_options import training_options
from thunder.domain.errors import ConfigError
from thunder.domain.training import OptimizerConfig, ScheduleConfig


def write(tmp_path: Path, cfg: Any) -> str:
    path = tmp_path / "c.json"
    path.write_text(cfg if isinstance(cfg, str) else json.dumps(cfg))
    return str(path)


def test_the_readme_config_loads() -> None:
    s = load_settings(str(ROOT / "config.json"))
    assert s.network.hidden_size == 64
    assert s.preprocessing_config.split_config.past_steps == 24
    assert s.columns(["date", "meantemp"]).time == "date"


def test_env_overrides_a_single_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THUNDER_TRAINING_CONFIG__EPOCHS", "3")
    s = load_settings(write(tmp_path, small_config(tmp_path)))
    assert s.training_config.epochs == 3
    assert s.training_config.max_steps == 5  # the rest of training_config still comes from the file


def test_config_path_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THUNDER_CONFIG", write(tmp_path, small_config(tmp_path)))
    assert load_settings().network.hidden_size == 16


def _bad(tmp_path: Path, change: Any) -> dict[str, Any]:
    cfg = small_config(tmp_path)
    change(cfg)
    return cfg


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c["model_config"].update(future_steps=6), "model_config.future_steps"),
        (lambda c: c["model_config"].update(num_features=3), "model_config.num_features"),
        (lambda c: c["model_config"].update(hidden_size=30, num_attention_heads=4), "hidden_size"),
        (
            lambda c: c["preprocessing_config"]["split_config"].update(
                train_ratio=0.9, val_ratio=0.1
            ),
            "leaves no test rows",
        ),
        (lambda c: c["training_config"].update(epochs=0), "training_config.epochs"),
        (lambda c: c["training_config"].update(epochs="many"), "training_config.epochs"),
        (lambda c: c["training_config"].update(epocs=3), "training_config.epocs: unknown key"),
        (lambda c: c.pop("model_path"), "model_path"),
        (lambda c: c["preprocessing_config"].update(target_variables=[]), "target_variables"),
        (lambda c: c["model_config"].update(block_pattern="mx"), "block_pattern"),
        (lambda c: c["model_config"].update(quantiles=[0.1, 1.5]), "model_config.quantiles"),
        (lambda c: c["model_config"].update(quantiles=[]), "model_config.quantiles"),
        (
            lambda c: c["preprocessing_config"].update(calendar_features=["hour"]),
            "(3: meantemp, hour_sin, hour_cos)",
        ),
        (
            lambda c: c["preprocessing_config"].update(calendar_features=["weekday"]),
            "calendar_features",
        ),
        (
            lambda c: c["training_config"].update(lr_schedule={"name": "step", "factor": 0.5}),
            "training_config.lr_schedule.step: 'factor' does not apply to lr_schedule 'step'",
        ),
        (
            lambda c: c["training_config"].update(optimizer={"name": "sgd", "betas": [0.9, 0.9]}),
            "training_config.optimizer.sgd: 'betas' does not apply to optimizer 'sgd'",
        ),
        (
            lambda c: c["training_config"].update(optimizer={"name": "rmsprop"}),
            "training_config.optimizer: name must be one of 'adamw', 'adam', 'sgd'",
        ),
        (
            lambda c: c["training_config"].update(lr_schedule={"name": "exponential"}),
            "training_config.lr_schedule: name must be one of",
        ),
        (lambda c: c["training_config"].update(lr_schedule="step"), "training_config.lr_schedule"),
        (
            lambda c: c["training_config"].update(lr_schedule={"name": "one_cycle"}),
            "lr_schedule.one_cycle.max_lr",
        ),
        (
            lambda c: c["training_config"].update(lr_schedule={"name": "plateau", "factor": 2}),
            "lr_schedule.plateau.factor",
        ),
        (
            lambda c: c["training_config"].update(lr_schedule={"name": "cosine"}, warmup_steps=5),
            "warmup_steps goes inside the lr_schedule object",
        ),
        (
            lambda c: c["training_config"].update(optimizer={"name": "sgd", "nesterov": True}),
            "nesterov needs a momentum > 0",
        ),
        (
            lambda c: c["training_config"].update(gradient_clip_algorithm="max"),
            "training_config.gradient_clip_algorithm",
        ),
        (
            lambda c: c["training_config"].update(gradient_clip_algorithm="value"),
            'training_config: gradient_clip_algorithm "value" clips to gradient_clip_val',
        ),
        (
            lambda c: c["training_config"].update(accumulate_grad_batches=0),
            "training_config.accumulate_grad_batches",
        ),
    ],
)
def test_bad_config_is_one_error_naming_the_field(tmp_path: Path, change: Any, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, _bad(tmp_path, change)))
    assert field in err.value.message
    assert "\n" not in err.value.message


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '{"training_config": {"epochs": 1,}\n}')
    with pytest.raises(ConfigError, match=r"c\.json: invalid JSON at line 1"):
        load_settings(path)


def test_missing_config_file_is_an_error_not_silence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(str(tmp_path / "nope.json"))


def test_inputs_are_targets_then_extra_features(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    cfg["preprocessing_config"]["numerical_features"] = ["humidity", "meantemp"]
    cfg["model_config"]["num_features"] = 2
    cols = load_settings(write(tmp_path, cfg)).columns(None)
    assert cols.inputs == ("meantemp", "humidity")
    assert cols.scaled == ("meantemp", "humidity")


def test_quantile_levels_are_sorted_deduplicated_and_include_the_median(tmp_path: Path) -> None:
    cfg = small_config(tmp_path)
    cfg["model_config"]["quantiles"] = [0.9, 0.1, 0.9]
    assert load_settings(write(tmp_path, cfg)).network.quantiles == [0.1, 0.5, 0.9]


@pytest.mark.parametrize(
    ("training", "schedule", "optimizer"),
    [
        ({}, ScheduleConfig(), OptimizerConfig()),  # today's: no schedule, AdamW with decay 0.01
        (
            {"lr_schedule": "cosine", "warmup_steps": 3},
            ScheduleConfig(name="cosine", warmup_steps=3),
            OptimizerConfig(),
        ),
        (
            {"lr_schedule": {"name": "step", "step_size": 5}, "optimizer": {"weight_decay": 0.1}},
            ScheduleConfig(name="step", step_size=5, gamma=0.1),
            OptimizerConfig(name="adamw", weight_decay=0.1),
        ),
        (
            {
                "lr_schedule": {"name": "one_cycle", "max_lr": 0.01},
                "optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True},
            },
            ScheduleConfig(name="one_cycle", max_lr=0.01, pct_start=0.3),
            OptimizerConfig(name="sgd", weight_decay=0.0, momentum=0.9, nesterov=True),
        ),
        (
            {"optimizer": {"name": "adam", "betas": [0.8, 0.9], "eps": 1e-6}},
            ScheduleConfig(),
            OptimizerConfig(name="adam", weight_decay=0.0, betas=(0.8, 0.9), eps=1e-6),
        ),
    ],
)
def test_optimisation_keys_in_string_and_object_forms_become_the_runs_values(
    tmp_path: Path, training: dict[str, Any], schedule: ScheduleConfig, optimizer: OptimizerConfig
) -> None:
    cfg = small_config(tmp_path)
    cfg["training_config"].update(training, accumulate_grad_batches=2)
    got = training_options(load_settings(write(tmp_path, cfg)), False, False).optimisation
    assert (got.schedule, got.optimizer, got.accumulate_grad_batches) == (schedule, optimizer, 2)
