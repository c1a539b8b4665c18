"""Accuracy benchmark: `python -m benchmarks.accuracy` prints test MAE next to the naive baselines.

ETTh1 (benchmarks/data/ETTh1.csv), target OT alone, past_steps 24 (--past 24 96 for more),
future_steps 12, hidden 64, 2 blocks, batch 32, split 0.7/0.15/0.15, test origins every 6 rows,
at most --max-steps optimizer steps with early stopping on the validation rows, over several
seeds; then the demo config on the Delhi climate data. Each run is the real
`python -m thunder chunk`; the figures come from its --report.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, chunk_command

ETTH1 = ROOT / "benchmarks" / "data" / "ETTh1.csv"
DELHI = ROOT / "examples" / "climate-data.csv"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--max-steps", type=int, default=3000)
    p.add_argument("--pattern", default=None, help="model_config.block_pattern (default: config's)")
    p.add_argument(
        "--past", type=int, nargs="+", default=[24], help="past_steps to run (e.g. 24 96)"
    )
    p.add_argument("--skip-delhi", action="store_true")
    p.add_argument(
        "--calendar",
        nargs="+",
        default=[],
        help="calendar_features for ETTh1 (e.g. hour day_of_week)",
    )
    p.add_argument(
        "--quantiles", type=float, nargs="+", default=None, help="model_config.quantiles (ETTh1)"
    )
    p.add_argument(
        "--devices",
        type=int,
        default=1,
        help="training processes (DDP over the cores; each step is one batch per process)",
    )
    args = p.parse_args()
    rows = []
    for past in args.past:
        runs = [
            _run(ETTH1, _etth1_config(past, seed, args), f"ETTh1 OT past {past}")
            for seed in args.seeds
        ]
        rows.append(_summary(f"ETTh1 OT, past {past}", "OT", runs))
    if not args.skip_delhi:
        delhi = json.loads((ROOT / "config.json").read_text())
        if args.pattern:
            delhi["model_config"]["block_pattern"] = args.pattern
        runs = []
        for seed in args.seeds:  # a small data set: the seed moves the figure, so show the spread
            delhi["training_config"]["seed"] = seed
            runs.append(_run(DELHI, delhi, "Delhi"))
        rows.append(_summary("Delhi meantemp (README config)", "meantemp", runs))
    print(_table(rows, args))


def _etth1_config(past: int, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    devices = getattr(args, "devices", 1)  # benchmarks.zoo passes its own options, without it
    model: dict[str, Any] = {
        "num_features": 1 + 2 * len(args.calendar),
        "hidden_size": 64,
        "num_layers": 2,
        "future_steps": 12,
        "num_attention_heads": 4,
    }
    if args.pattern:
        model["block_pattern"] = args.pattern
    if args.quantiles:
        model["quantiles"] = args.quantiles
    return {
        "training_config": {
            "epochs": 100,
            "max_steps": args.max_steps,
            "seed": seed,
            "early_stopping_patience": 3,
            **({"devices": devices, "strategy": "ddp"} if devices > 1 else {}),
        },
        "preprocessor_path": "pre.json",
        "model_path": "model.pth",
        "model_config": model,
        "preprocessing_config": {
            "target_variables": ["OT"],
            "calendar_features": args.calendar,
            "split_config": {
                "past_steps": past,
                "future_steps": 12,
                "train_ratio": 0.7,
                "val_ratio": 0.15,
                "batch_size": 32,
                "eval_stride": 6,
            },
        },
    }


def _run(csv: Path, cfg: dict[str, Any], label: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cfg = dict(cfg, model_path=str(work / "m.pth"), preprocessor_path=str(work / "p.json"))
        (work / "config.json").write_text(json.dumps(cfg))
        print(f"{label}, seed {cfg['training_config'].get('seed', 42)} ...", file=sys.stderr)
        subprocess.run(
            chunk_command(csv, 5000, "config.json", report="report.json"),
            cwd=work,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        report: dict[str, Any] = json.loads((work / "report.json").read_text())
        return report


def _summary(name: str, target: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [r["test"][target]["mae"] / r["baselines"]["naive_last"][target]["mae"] for r in runs]
    seasonal = [r["baselines"].get("seasonal_naive", {}).get(target, {}).get("mae") for r in runs]
    return {
        "name": name,
        "runs": len(runs),
        "mae": statistics.median(r["test"][target]["mae"] for r in runs),
        "naive": runs[0]["baselines"]["naive_last"][target]["mae"],
        "seasonal": seasonal[0],
        "ratio": statistics.median(ratios),
        "spread": (min(ratios), max(ratios)),
        "smape": statistics.median(r["test"][target]["smape"] for r in runs),
        "mase": statistics.median(r["test"][target].get("mase", float("nan")) for r in runs),
        "steps": statistics.median(r["train"]["steps"] for r in runs),
        "wps": statistics.median(r["train"]["windows_per_s"] for r in runs),
        "coverage": _coverage(runs, target),
    }


def _coverage(runs: list[dict[str, Any]], target: str) -> str:
    """The widest central band's coverage, median over runs ('-' without quantiles)."""
    bands = [
        (name, share)
        for r in runs
        for name, share in r.get("coverage", {}).get(target, {}).items()
        if "_" in name
    ]
    if not bands:
        return "-"
    widest = bands[0][0]
    shares = [share for name, share in bands if name == widest]
    return f"{widest} {statistics.median(shares):.1%}"


def _table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "| task | seeds | MAE (median) | naive MAE | seasonal MAE | MAE/naive (median) | spread "
        "| sMAPE % | MASE | steps | train windows/s | band coverage |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        seasonal = f"{r['seasonal']:.4f}" if r["seasonal"] is not None else "-"
        lines.append(
            f"| {r['name']} | {r['runs']} | {r['mae']:.4f} | {r['naive']:.4f} | {seasonal} "
            f"| {r['ratio']:.3f} | {r['spread'][0]:.3f}-{r['spread'][1]:.3f} | {r['smape']:.2f} "
            f"| {r['mase']:.3f} | {r['steps']:.0f} | {r['wps']:.0f} | {r['coverage']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
