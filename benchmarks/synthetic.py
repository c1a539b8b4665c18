"""Deterministic synthetic CSVs for the out-of-core benchmark and tests.

Columns: `date` (ISO, one row per minute and series), optionally `series` (long format, series
interleaved minute by minute), then `load` (a daily cycle plus a random walk) and three covariates.
Written in blocks, so generating a 10M-row file takes bounded memory too.
"""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ("load", "temp", "price", "wind")
BLOCK = 500_000


def write_csv(path: str | Path, rows: int, series: int = 1, seed: int = 0) -> Path:
    if rows % series:
        raise ValueError(f"rows ({rows}) must be a multiple of series ({series})")
    block = BLOCK - BLOCK % series  # whole minutes per block, so each block starts at series 0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    level = np.zeros(series)
    staged = path.with_name(path.name + ".tmp")
    with staged.open("w", newline="") as f:
        for start in range(0, rows, block):
            n = min(block, rows - start)
            row = np.arange(start, start + n)
            minute = row // series
            code = row % series
            # rows are [minute, series]: each series' walk continues from the last block's end
            walk = level + np.cumsum(rng.normal(0, 0.05, (n // series, series)), axis=0)
            level = walk[-1]
            walk = walk.reshape(-1)
            day = np.sin(2 * np.pi * minute / 1440)
            frame: dict[str, np.ndarray] = {
                "date": np.datetime_as_string(
                    np.datetime64("2000-01-01T00:00") + minute.astype("timedelta64[m]"), unit="m"
                ),
            }
            if series > 1:
                frame["series"] = np.char.add("s", code.astype(str))
            frame |= {
                "load": np.round(50 + 10 * day + walk + code, 3),
                "temp": np.round(15 + 8 * day + rng.normal(0, 1, n), 2),
                "price": np.round(
                    40 + 5 * np.cos(2 * np.pi * minute / 720) + rng.normal(0, 2, n), 2
                ),
                "wind": np.round(np.abs(rng.normal(6, 3, n)), 2),
            }
            pd.DataFrame(frame).to_csv(f, header=start == 0, index=False)
    staged.replace(path)
    return path


def config(tmp: Path, *, series: bool, max_steps: int, eval_stride: int) -> dict[str, Any]:
    """The benchmark's config.json: forecast `load` from its history and the three covariates."""
    return {
        "training_config": {"epochs": 1, "max_steps": max_steps, "seed": 0},
        "preprocessor_path": str(tmp / "preprocessor" / "preprocessor.pkl"),
        "model_path": str(tmp / "model" / "model.pth"),
        "model_config": {
            "num_features": 4,
            "hidden_size": 32,
            "num_layers": 2,
            "future_steps": 12,
            "num_attention_heads": 4,
        },
        "preprocessing_config": {
            "numerical_features": list(COLUMNS[1:]),
            "target_variables": ["load"],
            "id_column": "series" if series else None,
            "split_config": {
                "past_steps": 24,
                "future_steps": 12,
                "batch_size": 64,
                "eval_stride": eval_stride,
            },
        },
    }
