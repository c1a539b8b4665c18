"""Out-of-core benchmark: `python -m benchmarks.out_of_core` prints two tables.

1. `python -m thunder chunk` on synthetic CSVs of 1M and 10M rows (date + 4 numeric columns; with
   `--long`, also in long format with 1000 series), the same config and a fixed max_steps, each run
   from a cold cache: rows, file MB, peak RSS of the process tree, wall s, ingest rows/s (the one
   pass over the CSV: parse, check, count, cache) and train windows/s.
2. Is the training loop starved? Train windows/s with windows streamed from the row cache versus
   the same windows held in memory, on the same model and steps.

Files are generated once into --data-dir (deterministic; about 60 s per 10M rows).
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import run_chunk
from benchmarks.synthetic import COLUMNS, config, write_csv

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    args = _parse()
    data_dir = Path(args.data_dir)
    cases = [(rows, 1) for rows in args.rows]
    if args.long:
        cases += [(rows, 1000) for rows in args.rows]
    results = []
    for rows, series in [] if args.skip_runs else cases:
        csv = data_dir / f"synthetic-{rows}-{series}.csv"
        if not csv.exists():
            print(f"generating {csv} ...", file=sys.stderr)
            write_csv(csv, rows, series=series)
        results.append(_run(csv, rows, series, args))
        print(_row(results[-1]), file=sys.stderr)
    if results:
        print(_table(results))
    if not args.skip_starvation:
        csv = data_dir / f"synthetic-{args.rows[0]}-1.csv"
        print()
        print(_starvation(csv, args))


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--long", action="store_true", help="also run the 1000-series long format")
    p.add_argument("--size", type=int, default=100_000, help="chunk --size")
    p.add_argument("--max-steps", type=int, default=200)
    p.add_argument("--eval-stride", type=int, default=100, help="val/test windows every N rows")
    p.add_argument("--data-dir", default=str(ROOT / "benchmarks" / ".data"))
    p.add_argument("--skip-starvation", action="store_true")
    p.add_argument("--skip-runs", action="store_true", help="only the streamed-vs-memory check")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the streamed-vs-memory check")
    return p.parse_args()


def _run(csv: Path, rows: int, series: int, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cfg = config(
            work, series=series > 1, max_steps=args.max_steps, eval_stride=args.eval_stride
        )
        (work / "config.json").write_text(json.dumps(cfg))
        run = run_chunk(csv, args.size, work)
    report, peak, wall = run.report, run.peak_rss, run.wall_s
    data = report["data"]
    return {
        "rows": rows,
        "series": series,
        "file_mb": csv.stat().st_size / 1e6,
        "peak_rss_mb": peak / 1e6,
        "wall_s": wall,
        "ingest_rows_s": rows / data["check_s"],
        "train_windows_s": report["train"]["windows_per_s"],
    }


def _row(r: dict[str, Any]) -> str:
    return (
        f"| {r['rows']:>11,} | {r['series']:>6} | {r['file_mb']:>8.0f} | {r['peak_rss_mb']:>13.0f} "
        f"| {r['wall_s']:>7.1f} | {r['ingest_rows_s']:>14,.0f} | {r['train_windows_s']:>15,.0f} |"
    )


def _table(results: list[dict[str, Any]]) -> str:
    head = (
        "|        rows | series |  file MB | peak RSS (MB) |  wall s |  ingest rows/s "
        "| train windows/s |\n"
        "|------------:|-------:|---------:|--------------:|--------:|---------------:"
        "|----------------:|"
    )
    return "\n".join([head, *(_row(r) for r in results)])


def _starvation(csv: Path, args: argparse.Namespace) -> str:
    """Train the same model for the same steps on streamed windows and on in-memory windows."""
    from thunder.adapters.binary_cache import BinaryRowCache
    from thunder.adapters.lightning.data import WindowBatches
    from thunder.adapters.lightning.forecaster import LightningForecaster
    from thunder.adapters.sources.csv_chunks import CsvChunkSource
    from thunder.app.settings import Settings
    from thunder.app.training_options import network_config
    from thunder.domain.data.checking import RowChecker
    from thunder.domain.data.splitting import plan_split, split_origins
    from thunder.domain.data.streams import Restartable
    from thunder.domain.data.windowing import WindowCutter
    from thunder.domain.training import TrainingOptions
    from thunder.domain.values import WindowBatch

    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(Path(tmp), series=False, max_steps=args.max_steps, eval_stride=1)
        settings = Settings.model_validate(cfg)
        batch = settings.preprocessing_config.split_config.batch_size
        cols = settings.columns(None)
        source = CsvChunkSource(csv, args.size)
        checked = RowChecker(source.name, cols.scaled)(source.chunks(cols.scaled))
        table = BinaryRowCache(Path(tmp) / "cache", args.size).build("k", checked, source.name)
        plan = plan_split(table.counts, 0.7, 0.15, settings.window)
        cutter = WindowCutter(
            settings.window,
            [cols.scaled.index(c) for c in cols.inputs],
            [cols.scaled.index(c) for c in cols.targets],
        )
        train = split_origins(plan, "train", settings.window)
        # standardise with the train rows' moments so the loss is sane; the same for both runs
        first = next(iter(table.chunks())).values
        mean, std = first.mean(axis=0), first.std(axis=0) + 1e-6

        def scaled() -> Iterator[Any]:
            for chunk in table.chunks():
                yield type(chunk)(chunk.start, (chunk.values - mean) / std)

        streamed = Restartable(lambda: cutter.cut(scaled(), train))
        needed = (args.max_steps + 2) * batch
        xs, ys, lasts, held = [], [], [], 0
        for wb in streamed:
            xs.append(wb.x)
            ys.append(wb.y)
            lasts.append(wb.history)
            held += len(wb)
            if held >= needed:
                break
        memory = WindowBatch(
            np.concatenate(xs)[:needed], np.concatenate(ys)[:needed], np.concatenate(lasts)[:needed]
        )
        val = [WindowBatch(memory.x[:batch], memory.y[:batch], memory.history[:batch])]
        options = TrainingOptions(epochs=1, max_steps=args.max_steps, batch_size=batch, seed=0)
        runs: dict[str, list[float]] = {"in-memory": [], "streamed from cache": []}
        # alternate the two, several rounds: this shared 2-core machine drifts by 10-20%
        for _ in range(args.rounds):
            for name, stream in (("in-memory", [memory]), ("streamed from cache", streamed)):
                fit = LightningForecaster(network_config(settings), options).fit(stream, val)
                runs[name].append(fit.windows_seen / fit.wall_s)
        # the data path alone, no model: one whole epoch of shuffled training batches
        start, produced = time.perf_counter(), 0
        for x, _ in WindowBatches(streamed, batch, shuffle=True):
            produced += len(x)
        alone = produced / (time.perf_counter() - start)
    rates = {name: float(np.median(r)) for name, r in runs.items()}
    ratio = rates["streamed from cache"] / rates["in-memory"]
    lines = [
        f"| windows from        | train windows/s (median of {args.rounds}) |",
        "|---------------------|-----------------------------:|",
    ]
    lines += [f"| {name:<19} | {rate:>28,.0f} |" for name, rate in rates.items()]
    lines.append(
        f"\ndata path alone (cache -> scale -> windows -> shuffled batches, no model): "
        f"{alone:,.0f} windows/s over {produced:,} windows"
    )
    lines.append(
        f"\nstreamed / in-memory = {ratio:.3f} (target >= 0.90); columns {', '.join(COLUMNS)}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
