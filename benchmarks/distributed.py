"""Distributed benchmark: `python -m benchmarks.distributed` prints one table.

`python -m thunder chunk` on the synthetic 10M-row CSV of the out-of-core benchmark, with
training_config.devices = 1 and then 2 (strategy ddp, gloo, one machine), the same config and
optimizer steps: wall time of the whole command, train windows/s (windows of every rank / the
training's wall time), and the peak RSS of each rank and of the launcher. The row cache is built
once before the runs, so both measure training, not the CSV parse.

On a 2-core machine two ranks get one core each: this shows the cost of DDP (the all-reduce and
the launch), not its speed-up; see docs/cluster.md for what to expect with real nodes.
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from benchmarks.harness import run_chunk
from benchmarks.synthetic import config, write_csv

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    args = _parse()
    csv = Path(args.data_dir) / f"synthetic-{args.rows}-1.csv"
    if not csv.exists():
        print(f"generating {csv} ...", file=sys.stderr)
        write_csv(csv, args.rows)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    print("building the row cache ...", file=sys.stderr)
    _run(csv, 1, args, work, max_steps=1)  # the one parse, so both runs start from the cache
    results = []
    for processes in args.processes:
        results.append(_run(csv, processes, args, work, max_steps=args.max_steps))
        print(_row(results[-1]), file=sys.stderr)
    print(_table(results))


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    p.add_argument("--size", type=int, default=100_000, help="chunk --size")
    p.add_argument("--max-steps", type=int, default=300, help="optimizer steps of each run")
    p.add_argument("--eval-stride", type=int, default=100, help="val/test windows every N rows")
    p.add_argument("--data-dir", default=str(ROOT / "benchmarks" / ".data"))
    p.add_argument("--work-dir", default=str(ROOT / "benchmarks" / ".data" / "distributed"))
    return p.parse_args()


def _run(
    csv: Path, processes: int, args: argparse.Namespace, work: Path, max_steps: int
) -> dict[str, Any]:
    cfg = config(work, series=False, max_steps=max_steps, eval_stride=args.eval_stride)
    cfg["training_config"].update(devices=processes, strategy="ddp" if processes > 1 else "auto")
    (work / "config.json").write_text(json.dumps(cfg))
    env = {k: v for k, v in os.environ.items() if not k.startswith("THUNDER_")}
    run = run_chunk(csv, args.size, work, env)
    report, wall, peaks = run.report, run.wall_s, dict(run.peaks)
    launcher = peaks.pop(run.pid)
    # the ranks: thunder's own processes under the launcher (the elastic agent starts them)
    ranks = sorted(peaks.values(), reverse=True)[:processes] if processes > 1 else [launcher]
    train = report["train"]
    return {
        "processes": processes,
        "rows": report["data"]["rows"],
        "steps": train["steps"],
        "windows": train["windows_seen"],
        "train_s": train["wall_s"],
        "windows_s": train["windows_per_s"],
        "wall_s": wall,
        "rank_rss_mb": [r / 1e6 for r in ranks],
        "launcher_rss_mb": launcher / 1e6 if processes > 1 else None,
        "mae": report["test"]["load"]["mae"],
    }


def _row(r: dict[str, Any]) -> str:
    ranks = " / ".join(f"{m:.0f}" for m in r["rank_rss_mb"])
    launcher = f"{r['launcher_rss_mb']:.0f}" if r["launcher_rss_mb"] is not None else "-"
    return (
        f"| {r['processes']:>9} | {r['rows']:>10,} | {r['steps']:>5} | {r['windows']:>8,} "
        f"| {r['train_s']:>7.1f} | {r['windows_s']:>9,.0f} | {r['wall_s']:>6.1f} "
        f"| {ranks:>17} | {launcher:>12} | {r['mae']:>6.3f} |"
    )


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        "| processes |       rows | steps |  windows | train s | windows/s | wall s "
        "| peak RSS/rank MB | launcher MB |    MAE |\n"
        "|----------:|-----------:|------:|---------:|--------:|----------:|-------:"
        "|-----------------:|------------:|-------:|"
    )
    return "\n".join([head, *(_row(r) for r in results)])


if __name__ == "__main__":
    main()
