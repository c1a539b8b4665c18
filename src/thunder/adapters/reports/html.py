"""ReportWriter: metrics.json, the figures as PNG files and one self-contained index.html.

The page embeds every figure as a base64 data URI and loads nothing from anywhere, so it can be
mailed or archived alone; every text from the data (file and column names) is escaped. The
report is written into a hidden folder beside `directory` and renamed into place, so a failure
leaves the previous report (or none), never half of one. Plotting is optional: without a
`plotter` (the report extra is not installed) the page shows the tables only.
"""

import base64
import contextlib
import html
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from thunder.domain.errors import ArtifactError
from thunder.domain.scoring.evaluation import NAIVE, SEASONAL, ForecastReport
from thunder.domain.values import ErrorStats

Plotter = Callable[[ForecastReport], list[tuple[str, str, bytes]]]  # -> (file, caption, png)
MARKERS = ("index.html", "metrics.json")  # a folder holding these is a report we may replace
NAMES = {"model": "model", NAIVE: "naive (last value)", SEASONAL: "seasonal naive"}
NO_PLOTS = "Plots need the report extra: pip install 'thunder[report]'."
CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{padding:.25em .7em;text-align:right;
border-bottom:1px solid #ddd}th:first-child,td:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee}figure{margin:1em 0 2em}.note{color:#a33}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}"""


class HtmlReportWriter:
    def __init__(self, plotter: Plotter | None) -> None:
        self._plotter = plotter

    @property
    def plots(self) -> bool:
        return self._plotter is not None

    def write(self, report: ForecastReport, directory: str) -> list[str]:
        figures = self._plotter(report) if self._plotter else []
        files = {name: png for name, _, png in figures}
        files["metrics.json"] = (json.dumps(report.as_dict(), indent=2) + "\n").encode()
        files["index.html"] = render(report, [(n, c, p) for n, c, p in figures]).encode()
        target = Path(directory)
        try:
            _replace_dir(target, files)
        except OSError as e:
            where = e.filename or directory
            raise ArtifactError(f"cannot write the report to {where}: {e.strerror}") from None
        return [str(target / name) for name in files]


def _replace_dir(target: Path, files: Mapping[str, bytes]) -> None:
    if target.exists() and not _replaceable(target):
        raise ArtifactError(
            f"{target} exists and is not a thunder report (no index.html and metrics.json); "
            "choose another --out",
            field="--out",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    try:
        for name, data in files.items():
            (stage / name).write_bytes(data)
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700; readers may be other users
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.rename(target, old)
        os.rename(stage, target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        with contextlib.suppress(OSError):
            if old.exists() and not target.exists():
                os.rename(old, target)  # put the previous report back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _replaceable(target: Path) -> bool:
    """An empty folder or an earlier report: never someone's other files."""
    if not target.is_dir() or target.is_symlink():
        return False
    names = {p.name for p in target.iterdir()}
    return not names or all(m in names for m in MARKERS)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def render(report: ForecastReport, figures: list[tuple[str, str, bytes]]) -> str:
    ev, e = report.evaluation, html.escape
    facts = {
        "data": report.data,
        "model version": report.version,
        "window": f"{report.window.past_steps} rows in, {report.window.future_steps} forecast",
        "windows scored": str(ev.windows),
        "baselines": "naive = the last value repeated"
        + (f"; seasonal naive = the last {ev.season} rows repeated" if ev.season else ""),
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(report.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
        "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts.items()) + "</dl>",
        "<h2>Errors, in the data's own units</h2>",
        _summary_table(report),
    ]
    if ev.coverage:
        parts += ["<h2>Interval coverage</h2>", _coverage_table(ev.coverage)]
    for target in ev.targets:
        parts += [f"<h2>{e(target)} by horizon step</h2>", _step_table(report, target)]
    parts.append("<h2>Figures</h2>")
    if not figures:
        parts.append(f'<p class="note">{e(NO_PLOTS)}</p>')
    for name, caption, png in figures:
        data = base64.b64encode(png).decode("ascii")
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{e(caption)}">'
            f"<figcaption>{e(caption)} ({e(name)})</figcaption></figure>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _summary_table(report: ForecastReport) -> str:
    ev = report.evaluation
    rows = []
    for target in ev.targets:
        model = ev.model[target]
        for part, stats in [("model", model), *((n, s[target]) for n, s in ev.baselines.items())]:
            ratio = f"{model.mae / stats.mae:.3f}" if stats.mae else "-"
            rows.append([target, NAMES.get(part, part), *_cells(stats), ratio])
    head = ["target", "forecast", "MAE", "RMSE", "sMAPE %", "MASE", "model MAE / this MAE"]
    return _table(head, rows)


def _step_table(report: ForecastReport, target: str) -> str:
    ev = report.evaluation
    parts = list(ev.by_step)
    head = ["step", *(f"{NAMES.get(p, p)} MAE" for p in parts), "model RMSE", "model sMAPE %"]
    model = ev.by_step["model"][target]
    rows = [
        [
            str(k + 1),
            *(f"{ev.by_step[p][target][k].mae:.4f}" for p in parts),
            f"{model[k].rmse:.4f}",
            f"{model[k].smape:.2f}",
        ]
        for k in range(len(model))
    ]
    return _table(head, rows)


def _coverage_table(coverage: Mapping[str, Mapping[str, float]]) -> str:
    names = list(next(iter(coverage.values())))
    rows = [[t, *(f"{shares[n]:.1%}" for n in names)] for t, shares in coverage.items()]
    head = [f"inside {n.replace('_', '-')}" if "_" in n else f"at or below {n}" for n in names]
    return _table(["target", *head], rows)


def _cells(stats: ErrorStats) -> list[str]:
    mase = f"{stats.mase:.3f}" if stats.mase is not None else "-"
    return [f"{stats.mae:.4f}", f"{stats.rmse:.4f}", f"{stats.smape:.2f}", mase]


def _table(head: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    out = ["<table><thead><tr>", *(f"<th>{e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out += ["<tr>", *(f"<td>{e(c)}</td>" for c in row), "</tr>"]
    out.append("</tbody></table>")
    return "".join(out)


def report_writer() -> HtmlReportWriter:
    """Reports with plots when matplotlib (the report extra) is installed, else tables only.
    matplotlib loads here, on first use: `import thunder` and serving never pay for it."""
    if importlib.util.find_spec("matplotlib") is None:
        return HtmlReportWriter(None)
    from thunder.adapters.reports.plots import draw

    return HtmlReportWriter(draw)
