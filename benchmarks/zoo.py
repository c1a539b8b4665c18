"""The model zoo in one table: `python -m benchmarks.zoo` trains every architecture on ETTh1 and
on the Delhi demo data with the accuracy benchmark's protocol (benchmarks/accuracy.py: ETTh1 OT
alone, past 24, future 12, hidden 64, 2 layers, batch 32, split 0.7/0.15/0.15, at most
--max-steps steps with early stopping; Delhi the README config), each run the real
`python -m thunder chunk`, and prints per architecture: test MAE / naive MAE (median over the
seeds), train windows/s, the model's single-window latency in-process on one thread (traced, as
served by `--backend torch`), and the parameter count.
"""

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np
import torch

from benchmarks.accuracy import DELHI, ETTH1, _etth1_config, _run
from benchmarks.harness import ROOT
from thunder.adapters.lightning.forecaster import LightningForecaster
from thunder.app.settings import Settings
from thunder.app.training_options import network_config
from thunder.domain.training import TrainingOptions

ARCHITECTURES = ("xlstm", "lstm", "lstm_attention", "tft")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--max-steps", type=int, default=3000)
    p.add_argument("--architectures", nargs="+", default=list(ARCHITECTURES))
    args = p.parse_args()
    rows = []
    for arch in args.architectures:
        etth1 = [_run(ETTH1, _config(arch, seed, args), f"ETTh1 {arch}") for seed in args.seeds]
        delhi_cfg = json.loads((ROOT / "config.json").read_text())
        delhi_cfg["model_config"]["architecture"] = arch
        delhi = []
        for seed in args.seeds:
            delhi_cfg["training_config"]["seed"] = seed
            delhi.append(_run(DELHI, delhi_cfg, f"Delhi {arch}"))
        latency, params = _model_cost(_config(arch, 0, args))
        rows.append(
            {
                "arch": arch,
                "etth1": _ratio(etth1, "OT"),
                "etth1_wps": statistics.median(r["train"]["windows_per_s"] for r in etth1),
                "etth1_steps": statistics.median(r["train"]["steps"] for r in etth1),
                "delhi": _ratio(delhi, "meantemp"),
                "delhi_wps": statistics.median(r["train"]["windows_per_s"] for r in delhi),
                "latency_ms": latency,
                "params": params,
            }
        )
    print(_table(rows, len(args.seeds)))


def _config(arch: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    ns = argparse.Namespace(calendar=[], pattern=None, quantiles=None, max_steps=args.max_steps)
    cfg = _etth1_config(24, seed, ns)
    cfg["model_config"]["architecture"] = arch
    return cfg


def _ratio(runs: list[dict[str, Any]], target: str) -> tuple[float, float, float]:
    """(median, min, max) of test MAE / naive MAE over the runs."""
    r = [x["test"][target]["mae"] / x["baselines"]["naive_last"][target]["mae"] for x in runs]
    return statistics.median(r), min(r), max(r)


def _model_cost(cfg: dict[str, Any]) -> tuple[float, int]:
    """p50 ms of one window through LightningForecaster.predict (traced and frozen, one
    thread) over 300 calls, and the parameter count: neither depends on the trained weights."""
    settings = Settings.model_validate(cfg)
    net = network_config(settings)
    forecaster = LightningForecaster(net, TrainingOptions())
    params = sum(p.numel() for p in forecaster._net.parameters())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = (
            np.random.default_rng(0)
            .normal(size=(1, net.past_steps, net.num_features))
            .astype(np.float32)
        )
        for _ in range(20):  # trace, freeze and warm up
            forecaster.predict(x)
        times = []
        for _ in range(300):
            start = time.perf_counter()
            forecaster.predict(x)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 1000 * statistics.median(times), params


def _table(rows: list[dict[str, Any]], seeds: int) -> str:
    lines = [
        f"| architecture | ETTh1 MAE/naive (median of {seeds}) | spread | steps | train windows/s "
        f"| Delhi MAE/naive (median of {seeds}) | spread | train windows/s "
        "| 1-window latency ms | parameters |",
        "|---|---:|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        e, d = r["etth1"], r["delhi"]
        lines.append(
            f"| {r['arch']} | {e[0]:.3f} | {e[1]:.3f}-{e[2]:.3f} | {r['etth1_steps']:.0f} "
            f"| {r['etth1_wps']:.0f} | {d[0]:.3f} | {d[1]:.3f}-{d[2]:.3f} | {r['delhi_wps']:.0f} "
            f"| {r['latency_ms']:.2f} | {r['params']:,} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
