"""The long-horizon benchmark's thunder side: a real `thunder chunk` scored on the protocol."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.long_horizon import load, run_thunder, thunder_config

pytestmark = pytest.mark.integration

PRESET = {
    "training_config": {"epochs": 1, "max_steps": 5},
    "model_path": "-",
    "preprocessor_path": "-",
    "model_config": {"architecture": "lstm", "hidden_size": 8, "num_layers": 1},
    "preprocessing_config": {
        "target_variables": ["-"],
        "split_config": {"past_steps": 48, "future_steps": 1, "batch_size": 64},
    },
}


def test_every_test_window_is_scored_and_the_z_scored_errors_are_thunders(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(1000)
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2020-01-01", periods=len(t), freq="h").astype(str),
            "load": 50 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, len(t)),
            "temp": 20 + 0.01 * t + rng.normal(0, 0.5, len(t)),
        }
    )
    frame.to_csv(tmp_path / "toy.csv", index=False)
    data = load(tmp_path / "toy.csv", "M", None)
    score = run_thunder(data, thunder_config(PRESET, data, 24, seed=0), tmp_path / "run")
    # run_thunder refuses a count other than the protocol's: 20 % of 1000 rows, 24 steps ahead
    assert score.test_windows == 200 - 24 + 1
    loss_scaled = json.loads((tmp_path / "run" / "report.json").read_text())["test"]["loss_scaled"]
    # the report's errors in the data's units, z-scored with the training rows' std, are the
    # model's own loss on the scaled values
    assert score.mse == pytest.approx(loss_scaled, rel=1e-4)
    assert 0 < score.mae < 10
