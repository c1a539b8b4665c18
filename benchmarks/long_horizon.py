"""Long-horizon benchmark: `python -m benchmarks.long_horizon` prints MSE/MAE per horizon.

The protocol the field reports on (Informer, Autoformer, PatchTST, xLSTM-Mixer): ETT hourly data
is cut to its first 20 months and split 12/4/4 months (ETT 15-minute data the same, four rows an
hour); any other file 70/10/20 % of its rows. Every channel is z-scored with the training rows'
mean and standard deviation, and MSE and MAE are computed on those z-scored values, over every
step and channel of every test window: one window per origin, whose inputs may reach back into
the validation rows, and none dropped (many published tables lose the last partial batch of
their test loader). Setting M forecasts every channel from every channel; S the target alone.

Each horizon is one real `python -m thunder chunk` with the preset config (--config, default
examples/long_horizon.json) adapted to the file, the setting and the horizon; its --report gives
the test errors in the data's units, which the training rows' standard deviation turns into
z-scored ones. The closed-form linear baseline (benchmarks/linear_baseline.py) is fitted and
scored on the same windows in the same run.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import linear_baseline
from benchmarks.harness import ROOT, run_chunk
from thunder.domain.values import FloatArray

ETTH1 = ROOT / "benchmarks" / "data" / "ETTh1.csv"
PRESET = ROOT / "examples" / "long_horizon.json"
MONTH_HOURS = 30 * 24


@dataclass(frozen=True)
class Split:
    """Rows of each part, in order from the file's first row (rows past them are not used)."""

    train: int
    val: int
    test: int

    @property
    def rows(self) -> int:
        return self.train + self.val + self.test

    def origins(self, part: str, context: int, horizon: int) -> range:
        """Where the targets of each window of `part` start (the protocol's windows)."""
        start = {"train": 0, "val": self.train, "test": self.train + self.val}[part]
        stop = start + getattr(self, part)
        return range(max(start, context), stop - horizon + 1)

    def ratios(self) -> tuple[float, float]:
        """split_config's train_ratio and val_ratio that cut these rows exactly: thunder takes
        int(rows * ratio), so half a row of margin keeps float rounding off the border."""
        return (self.train + 0.5) / self.rows, self.val / self.rows


def standard_split(name: str, rows: int) -> Split:
    """The split published results use for the file `name` of `rows` rows."""
    if name.startswith(("ETTh", "ETTm")):
        per_hour = 4 if name.startswith("ETTm") else 1
        month = MONTH_HOURS * per_hour
        split = Split(12 * month, 4 * month, 4 * month)
        if rows < split.rows:
            raise SystemExit(f"{name}: {rows} rows, the ETT split needs {split.rows}")
        return split
    train, test = int(rows * 0.7), int(rows * 0.2)
    return Split(train, rows - train - test, test)


@dataclass(frozen=True)
class Data:
    """The file's rows the protocol uses, its value columns and the training rows' std."""

    frame: pd.DataFrame
    split: Split
    channels: list[str]
    train_std: dict[str, float]

    def scaled(self) -> FloatArray:
        values: FloatArray = self.frame[self.channels].to_numpy(np.float64)
        train = values[: self.split.train]
        scaled: FloatArray = (values - train.mean(axis=0)) / train.std(axis=0)
        return scaled


def load(path: Path, setting: str, target: str | None) -> Data:
    frame = pd.read_csv(path)
    time_col, *values = list(frame.columns)
    target = target or values[-1]
    if target not in values:
        raise SystemExit(f"{path.name}: no column {target!r} (columns: {', '.join(values)})")
    split = standard_split(path.name, len(frame))
    frame = frame.iloc[: split.rows]
    channels = values if setting == "M" else [target]
    std = frame[channels].iloc[: split.train].std(ddof=0)  # StandardScaler's: population std
    return Data(frame[[time_col, *channels]], split, channels, {c: float(std[c]) for c in channels})


def thunder_config(preset: dict[str, Any], data: Data, horizon: int, seed: int) -> dict[str, Any]:
    """The preset with this file's columns, this horizon and the protocol's split."""
    cfg: dict[str, Any] = json.loads(json.dumps(preset))
    context = cfg["preprocessing_config"]["split_config"]["past_steps"]
    train_ratio, val_ratio = data.split.ratios()
    cfg["training_config"]["seed"] = seed
    cfg["model_config"].update(num_features=len(data.channels), future_steps=horizon)
    cfg["preprocessing_config"].update(
        target_variables=data.channels, numerical_features=[], use_target_as_feature=True
    )
    cfg["preprocessing_config"]["split_config"].update(
        past_steps=context,
        future_steps=horizon,
        train_ratio=train_ratio,
        val_ratio=val_ratio,
        eval_stride=1,  # every test origin: the protocol scores all of them
    )
    return cfg


@dataclass(frozen=True)
class Score:
    mse: float
    mae: float
    wall_s: float = 0.0
    windows_per_s: float = 0.0
    test_windows: int = 0


def run_thunder(data: Data, cfg: dict[str, Any], work: Path) -> Score:
    """`thunder chunk` on the protocol's rows; its test errors z-scored and pooled."""
    work.mkdir(parents=True)
    csv = work / "data.csv"
    data.frame.to_csv(csv, index=False)
    cfg = dict(cfg, model_path=str(work / "model.pth"), preprocessor_path=str(work / "pre.pkl"))
    (work / "config.json").write_text(json.dumps(cfg))
    run = run_chunk(csv, 5000, work)
    test = run.report["test"]
    split = cfg["preprocessing_config"]["split_config"]
    expected = len(data.split.origins("test", split["past_steps"], split["future_steps"]))
    if test["windows"] != expected:
        raise SystemExit(f"thunder scored {test['windows']} test windows, the protocol {expected}")
    # every channel has the same number of (window, step) pairs: the pooled means are the
    # means of the per-channel ones
    mse = statistics.fmean(test[c]["rmse"] ** 2 / data.train_std[c] ** 2 for c in data.channels)
    mae = statistics.fmean(test[c]["mae"] / data.train_std[c] for c in data.channels)
    train = run.report["train"]
    return Score(mse, mae, run.wall_s, train["windows_per_s"], test["windows"])


def run_linear(data: Data, context: int, horizon: int) -> Score:
    z = data.scaled()
    start = time.perf_counter()
    w = linear_baseline.fit(z, data.split.origins("train", context, horizon), context, horizon)
    test = data.split.origins("test", context, horizon)
    errors = linear_baseline.score(w, z, test, context, horizon)
    return Score(errors.mse, errors.mae, time.perf_counter() - start, test_windows=len(test))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=ETTH1, help="CSV: a time column, then values")
    p.add_argument("--setting", choices=["M", "S"], default="M")
    p.add_argument("--target", default=None, help="the S setting's column (default: the last)")
    p.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--config", type=Path, default=PRESET, help="the preset to adapt")
    p.add_argument("--skip-thunder", action="store_true", help="the linear baseline alone")
    args = p.parse_args()
    data = load(args.data, args.setting, args.target)
    preset = json.loads(args.config.read_text())
    context = preset["preprocessing_config"]["split_config"]["past_steps"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for h in args.horizons:
            linear = run_linear(data, context, h)
            runs = []
            for seed in [] if args.skip_thunder else args.seeds:
                print(f"horizon {h}, seed {seed} ...", file=sys.stderr)
                cfg = thunder_config(preset, data, h, seed)
                runs.append(run_thunder(data, cfg, Path(tmp) / f"h{h}-s{seed}"))
            rows.append((h, linear, runs))
    print(_header(args, data, context, preset))
    print(_table(rows))


def _header(args: argparse.Namespace, data: Data, context: int, preset: dict[str, Any]) -> str:
    s = data.split
    arch = preset["model_config"].get("architecture", "xlstm")
    return (
        f"{args.data.name}, setting {args.setting} ({len(data.channels)} channel(s): "
        f"{', '.join(data.channels)}), context {context}, split {s.train}/{s.val}/{s.test} "
        f"rows, thunder {arch} from {args.config.name}, seeds {args.seeds}.\n"
        "MSE and MAE on values z-scored with the training rows' mean and std, over every "
        "step and channel of every test window (one per origin, none dropped); thunder's "
        "figures are the median over seeds, with the range of MSE.\n"
    )


def _table(rows: list[tuple[int, Score, list[Score]]]) -> str:
    lines = [
        "| horizon | test windows | thunder MSE | thunder MAE | MSE range | linear MSE "
        "| linear MAE | thunder train (s) | windows/s | linear fit (s) |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for h, lin, runs in rows:
        lines.append(
            f"| {h} | {lin.test_windows} | {_runs(runs)} | {lin.mse:.3f} | {lin.mae:.3f}"
            f" | {_med(runs, 'wall_s', '.0f')} | {_med(runs, 'windows_per_s', '.0f')}"
            f" | {lin.wall_s:.1f} |"
        )
    lin_avg = [statistics.fmean(getattr(r[1], k) for r in rows) for k in ("mse", "mae")]
    if all(r[2] for r in rows):
        avg = [statistics.fmean(_median(r[2], k) for r in rows) for k in ("mse", "mae")]
        mine = f"{avg[0]:.3f} | {avg[1]:.3f} | -"
    else:
        mine = "- | - | -"
    lines.append(f"| average | | {mine} | {lin_avg[0]:.3f} | {lin_avg[1]:.3f} | | | |")
    return "\n".join(lines)


def _median(runs: list[Score], key: str) -> float:
    return float(statistics.median(getattr(r, key) for r in runs))


def _med(runs: list[Score], key: str, fmt: str) -> str:
    return format(_median(runs, key), fmt) if runs else "-"


def _runs(runs: list[Score]) -> str:
    if not runs:
        return "- | - | -"
    lo, hi = min(r.mse for r in runs), max(r.mse for r in runs)
    return f"{_median(runs, 'mse'):.3f} | {_median(runs, 'mae'):.3f} | {lo:.3f}-{hi:.3f}"


if __name__ == "__main__":
    main()
