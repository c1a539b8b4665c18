"""Inference benchmark: `python -m benchmarks.inference` prints one table, torch vs ONNX.

Trains the README's demo model (Delhi climate, meantemp) in a scratch folder with `thunder
chunk`, exports it with `thunder export --format onnx` (and `--quantize int8`), then times the
serving use case in-process (scaling, model, inverse scaling, rows: what `POST /predict` runs
after parsing) for one series and for a batch of 1000, on 1 and 2 threads, and gives each
backend's MAE over every window of the demo's last 15 % of rows, against the torch model's.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchmarks.harness import ROOT, chunk_command
from thunder.app import paths
from thunder.app.serving import ServedModel
from thunder.app.settings import Settings, load_settings
from thunder.entrypoints.bootstrap import bootstrap

CSV = ROOT / "examples" / "climate-data.csv"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=300, help="timed single-series forecasts")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cfg = json.loads((ROOT / "config.json").read_text())
        (work / "config.json").write_text(json.dumps(cfg))
        run = subprocess.run(chunk_command(CSV, 500, "config.json"), cwd=work, check=False)
        if run.returncode:
            raise SystemExit("training failed")
        os.chdir(work)  # the config's artifact paths are relative to it
        settings = load_settings("config.json")
        exports = {"onnx": [], "onnx int8": ["--quantize", "int8"]}
        files: dict[str, bytes] = {}
        for name, extra in exports.items():
            out = work / f"{name.replace(' ', '-')}.onnx"
            cmd = [sys.executable, "-m", "thunder", "export", "--output", str(out), *extra]
            subprocess.run(cmd, cwd=work, check=True, capture_output=True)
            files[name] = out.read_bytes()
        series = _test_series(settings)
        rows = []
        # 2 threads first: on 1 thread a big batch runs in slices on a thread pool, and torch's
        # thread settings changed after that pool has run it cost a single window ~6 ms more
        # (a serving worker never changes them; this process would otherwise measure that)
        for threads in (2, 1):
            os.environ["OMP_NUM_THREADS"] = str(threads)  # onnxruntime sessions read it
            torch.set_num_threads(threads)
            for backend in ("torch", *files):
                forecast = _load(settings, backend, files)
                rows.append(_measure(backend, threads, forecast, series, args.repeats))
    base = {r["threads"]: r["mae"] for r in rows if r["backend"] == "torch"}
    print(f"\nDelhi demo model, {len(series[0])} windows of the last 15 % rows; in-process")
    print(
        f"{'backend':<11}{'threads':>8}{'1 series p50':>14}{'p99':>9}{'1000 series':>13}"
        f"{'test MAE':>10}{'vs torch':>10}"
    )
    for r in rows:
        print(
            f"{r['backend']:<11}{r['threads']:>8}{r['p50'] * 1e3:>12.2f}ms{r['p99'] * 1e3:>7.2f}ms"
            f"{r['batch'] * 1e3:>11.0f}ms{r['mae']:>10.4f}{r['mae'] / base[r['threads']]:>10.4f}"
        )


def _load(s: Settings, backend: str, files: dict[str, bytes]) -> ServedModel:
    if backend != "torch":  # the export as the served file of a version, as `export` publishes
        store = bootstrap(settings=s).artifact_store()
        current = store.load([s.model_path, s.preprocessor_path, paths.card_path(s)])
        store.publish({**current.files, paths.onnx_path(s): files[backend]})
    serving = s.serving_config.model_copy(
        update={"backend": "torch" if backend == "torch" else "onnx"}
    )
    forecast: ServedModel = bootstrap(
        settings=s.model_copy(update={"serving_config": serving})
    ).load_model()()
    assert forecast.model_file.endswith(".pth" if backend == "torch" else ".onnx")
    forecast.warm_up()
    return forecast


def _test_series(settings: Settings) -> tuple[list[list[dict[str, Any]]], list[list[float]]]:
    """Every window of past_steps records in the last 15 % rows, and the future actuals."""
    frame = pd.read_csv(CSV)
    past, future = settings.window.past_steps, settings.window.future_steps
    target = settings.preprocessing_config.target_variables[0]
    start = int(len(frame) * 0.85)
    records = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
    histories: list[list[dict[str, Any]]] = []
    actuals: list[list[float]] = []
    for i in range(start, len(frame) - past - future + 1):
        histories.append(records[i : i + past])
        actuals.append([float(v) for v in frame[target].iloc[i + past : i + past + future]])
    return histories, actuals


def _measure(
    backend: str,
    threads: int,
    forecast: ServedModel,
    series: tuple[list[list[dict[str, Any]]], list[list[float]]],
    repeats: int,
) -> dict[str, Any]:
    histories, actuals = series
    target = forecast.card.columns.targets[0]
    time_key = forecast.card.columns.time or "timestamp"

    def answer(some: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
        return forecast.batch(some).as_json(time_key)  # what POST /predict runs after parsing

    predicted = answer(histories)
    errors = [
        abs(row[target] - a)
        for rows, acts in zip(predicted, actuals, strict=True)
        for row, a in zip(rows, acts, strict=True)
    ]
    single = _times(lambda: answer(histories[:1]), repeats)
    batch = (histories * (1000 // len(histories) + 1))[:1000]
    return {
        "backend": backend,
        "threads": threads,
        "p50": statistics.median(single),
        "p99": sorted(single)[int(len(single) * 0.99)],
        "batch": statistics.median(_times(lambda: answer(batch), 5)),
        "mae": sum(errors) / len(errors),
    }


def _times(f: Callable[[], Sequence[Any]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        out.append(time.perf_counter() - t0)
    return out


if __name__ == "__main__":
    main()
