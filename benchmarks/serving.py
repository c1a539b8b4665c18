"""Serving benchmark: `python -m benchmarks.serving` prints p50/p99 latency and requests/s.

Trains the README's demo model (Delhi climate, meantemp) into a temporary folder, starts
`thunder serve --workers 2` and the real deploy/nginx.conf in front of it, then drives both with
wrk (a real load generator; `apt-get install wrk`): POST /predict direct and through nginx, and
POST /predict/batch with 100 and 1000 series (columnar bodies, 24 rows each) through nginx.
wrk, nginx and the two workers share this machine's cores, as they would on a small host.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    ROOT,
    chunk_command,
    free_port,
    nginx_binary,
    start_nginx,
    stop,
    wait_http,
)

LIFTED = {"rate=1000r/s": "rate=1000000r/s"}
HISTORY = json.loads((ROOT / "examples" / "data.json").read_text())["data"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=int, default=15, help="seconds per case")
    p.add_argument(
        "--connections", type=int, default=8, help="wrk connections for the throughput case"
    )
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--backend",
        choices=["auto", "torch", "onnx"],
        default="auto",
        help="serve --backend (auto: the ONNX export when the onnx extra is installed)",
    )
    args = p.parse_args()
    wrk, nginx = shutil.which("wrk"), nginx_binary()
    if wrk is None or nginx is None:
        raise SystemExit("needs wrk and nginx on PATH (Debian: apt-get install wrk nginx-light)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = _train(work)
        port = free_port()
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "thunder",
                "serve",
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--backend",
                args.backend,
            ],
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        api = f"http://127.0.0.1:{port}"
        # wrk is one client: nginx.conf's per-client limit (1000 requests/s) would measure its
        # 429 answers, not the API
        proxy, url = start_nginx(nginx, api.removeprefix("http://"), work / "nginx", LIFTED)
        try:
            wait_http(api + "/readyz", serve, timeout=180)
            wait_http(url + "/healthz", proxy, timeout=30)
            cases = [
                ("POST /predict, direct", api + "/predict", _single(), 2),
                ("POST /predict, via nginx", url + "/predict", _single(), 2),
                ("POST /predict, via nginx", url + "/predict", _single(), args.connections),
                ("POST /predict/batch 100, via nginx", url + "/predict/batch", _batch(100), 2),
                ("POST /predict/batch 1000, via nginx", url + "/predict/batch", _batch(1000), 1),
            ]
            rows = [
                _wrk(wrk, work, name, target, body, conns, args.duration)
                for name, target, body, conns in cases
            ]
        finally:
            stop(proxy)
            stop(serve)
    print(_table(rows, args))


def _train(work: Path) -> Path:
    cfg = json.loads((ROOT / "config.json").read_text())
    cfg["model_path"] = str(work / "model" / "model.pth")
    cfg["preprocessor_path"] = str(work / "preprocessor" / "preprocessor.pkl")
    config = work / "config.json"
    config.write_text(json.dumps(cfg))
    print("training the demo model ...", file=sys.stderr)
    subprocess.run(
        chunk_command(ROOT / "examples" / "climate-data.csv", 500, config),
        cwd=work,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return config


def _single() -> dict[str, Any]:
    return {"data": HISTORY[-24:]}


def _batch(n: int) -> dict[str, Any]:
    rows = HISTORY[-24:]
    columns = {key: [r[key] for r in rows] for key in ("date", "meantemp")}
    return {"series": [{"id": f"station-{i}", "columns": columns} for i in range(n)]}


def _wrk(
    wrk: str, work: Path, name: str, url: str, body: dict[str, Any], conns: int, duration: int
) -> dict[str, Any]:
    """One wrk run; the body goes in through a Lua script, as wrk has no --data."""
    tag = f"{abs(hash(name))}-{conns}"
    body_file = work / f"body-{tag}.json"
    body_file.write_text(json.dumps(body))
    script = work / f"post-{tag}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "r")\n'
        'wrk.body = f:read("*a")\nf:close()\n'
    )
    print(f"{name}: {duration} s, {conns} connection(s) ...", file=sys.stderr)
    out = subprocess.run(
        [
            wrk,
            "-t",
            str(min(conns, 2)),
            "-c",
            str(conns),
            "-d",
            f"{duration}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = re.search(r"Socket errors: (.*)", out)
    return {
        "name": name,
        "conns": conns,
        "body_kb": body_file.stat().st_size / 1024,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": failed.group(1) if failed else "",
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def _table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"thunder serve --workers {args.workers} --backend {args.backend}, {os.cpu_count()} cores, "
        f"wrk {args.duration} s per case, nginx's per-client rate limit lifted",
        "",
        "| case                                | conns | body KB |  req/s | p50 ms | p99 ms | non-2xx |",
        "|-------------------------------------|------:|--------:|-------:|-------:|-------:|--------:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']:<35} | {r['conns']:>5} | {r['body_kb']:>7.1f} | {r['rps']:>6.0f} "
            f"| {r['p50']:>6.1f} | {r['p99']:>6.1f} | {r['errors']:>7} |"
        )
        if r["socket_errors"]:
            lines.append(f"|   socket errors: {r['socket_errors']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
