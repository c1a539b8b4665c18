"""The Python API next to the CLI on the bundled demo data, one table.

    python -m benchmarks.library [--size 500] [--config config.json] [--repeat 200]

Trains three ways, each in a fresh child process watched for wall time and peak RSS: `thunder
chunk` (the baseline), `thunder.train` on the same file, and `thunder.train(module=...)` with a
user's ThunderModule (one linear map from the window to the horizon). Then, in this process,
the latency of `TrainedModel.predict` on one history and of `predict_many` on 100 histories.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, run_chunk, watch_rss

TRAIN = """
import json, sys, thunder
run = thunder.train(sys.argv[1], "config.json", chunk_size=int(sys.argv[2]))
json.dump(run.report.as_dict(), open("report.json", "w"))
"""

CUSTOM = """
import json, sys, torch, thunder
cfg = thunder.load_config("config.json")
cols, w = cfg.columns(None), cfg.window
n_in, n_out = w.past_steps * len(cols.inputs), w.future_steps * len(cols.targets)

class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.map = torch.nn.Linear(n_in, n_out)

    def forward(self, x):
        return self.map(x.flatten(1)).view(-1, w.future_steps, len(cols.targets))

net = Linear()
module = thunder.ThunderModule(
    net, torch.nn.L1Loss(), optimizer=torch.optim.Adam(net.parameters(), lr=1e-2)
)
run = thunder.train(sys.argv[1], cfg, chunk_size=int(sys.argv[2]), module=module)
json.dump(run.report.as_dict(), open("report.json", "w"))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--config", type=Path, default=ROOT / "config.json")
    parser.add_argument("--input", type=Path, default=ROOT / "examples" / "climate-data.csv")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    csv = args.input.resolve()
    rows: list[tuple[str, str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, how in (
            ("thunder chunk", None),
            ("thunder.train", TRAIN),
            ("train(module=)", CUSTOM),
        ):
            work = Path(tmp) / name.replace(" ", "_")
            work.mkdir()
            (work / "config.json").write_text(args.config.read_text())
            report, wall, rss = _train(csv, args.size, work, how)
            rows.append(_row(name, report, wall, rss))
        latency = _latency(Path(tmp) / "thunder.train" / "config.json", csv, args.repeat)
    _print(rows, latency)


def _train(
    csv: Path, size: int, work: Path, script: str | None
) -> tuple[dict[str, Any], float, int]:
    if script is None:
        run = run_chunk(csv, size, work)
        return run.report, run.wall_s, run.peak_rss
    start = time.perf_counter()
    cmd = [sys.executable, "-c", script, str(csv), str(size)]
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, _ = watch_rss(proc)
    _, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"{script.splitlines()[1]} failed: {err.decode().strip()[-2000:]}")
    report: dict[str, Any] = json.loads((work / "report.json").read_text())
    return report, time.perf_counter() - start, peak


def _row(
    name: str, report: dict[str, Any], wall: float, rss: int
) -> tuple[str, str, str, str, str]:
    train, test = report["train"], report["test"]
    base = report["baselines"]["naive_last"]
    target = next(k for k, v in test.items() if isinstance(v, dict) and "mae" in v)
    mae = test[target]["mae"]
    ratio = mae / base[target]["mae"]
    speed = train["windows_per_s"]
    return name, f"{wall:.1f}", f"{rss / 2**20:.0f}", f"{speed:.0f}", f"{mae:.4f} ({ratio:.3f})"


def _latency(config: Path, csv: Path, repeat: int) -> tuple[float, float]:
    """Median ms of TrainedModel.predict on one history and of predict_many on 100."""
    import pandas as pd

    import thunder

    os.chdir(config.parent)  # the config's paths are relative to where its run ran
    model = thunder.load(config)
    frame = pd.read_csv(csv)
    history = frame.tail(model.window.past_steps * 2)
    many = {i: frame.iloc[-(i + 60) : len(frame) - i] for i in range(100)}
    model.predict(history)  # the first call compiles the inference graph
    one = _median_ms(lambda: model.predict(history), repeat)
    hundred = _median_ms(lambda: model.predict_many(many), max(5, repeat // 20))
    return one, hundred


def _median_ms(call: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _print(rows: list[tuple[str, str, str, str, str]], latency: tuple[float, float]) -> None:
    head = ("how", "wall s", "peak RSS MB", "train windows/s", "test MAE (/ naive)")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nTrainedModel.predict, one history: {latency[0]:.2f} ms median")
    print(f"TrainedModel.predict_many, 100 histories: {latency[1]:.1f} ms median")


if __name__ == "__main__":
    main()
