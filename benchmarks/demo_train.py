"""Train on the bundled demo data with the README config and print one table.

    python -m benchmarks.demo_train [--size 500] [--config config.json]

Runs `python -m thunder chunk` as a child process (as a user would) in a scratch directory and
reports its wall time and peak RSS next to the run summary's own figures.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--config", type=Path, default=ROOT / "config.json")
    parser.add_argument("--input", type=Path, default=ROOT / "examples" / "climate-data.csv")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = json.loads(args.config.read_text())
        (Path(tmp) / "config.json").write_text(json.dumps(cfg))
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "thunder",
                "chunk",
                "--input",
                str(args.input.resolve()),
                "--size",
                str(args.size),
                "--report",
                "run.json",
            ],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        if done.returncode:
            sys.exit(f"chunk failed: {done.stderr.strip()}")
        report = json.loads((Path(tmp) / "run.json").read_text())
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    target = cfg["preprocessing_config"]["target_variables"][0]
    mae = report["test"][target]["mae"]
    naive = report["baselines"]["naive_last"][target]["mae"]
    rows = [
        ("rows", f"{report['data']['rows']}"),
        ("chunk size", f"{args.size}"),
        ("epochs / steps", f"{report['train']['epochs']} / {report['train']['steps']}"),
        ("wall s (whole command)", f"{wall:.1f}"),
        ("train s", f"{report['train']['wall_s']:.1f}"),
        ("train windows/s", f"{report['train']['windows_per_s']:.0f}"),
        ("peak RSS MB", f"{peak_mb:.0f}"),
        (f"test MAE {target}", f"{mae:.4f}"),
        (f"naive MAE {target}", f"{naive:.4f}"),
        ("MAE / naive", f"{mae / naive:.3f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"| {'metric':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        print(f"| {key:<{width}} | {value} |")


if __name__ == "__main__":
    main()
