"""The report's figures, drawn with matplotlib's object API on the Agg canvas (no screen, no
pyplot state). Imported only when a report is written: `import thunder` and serving never load
matplotlib."""

import io
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from thunder.domain.scoring.evaluation import NAIVE, SEASONAL, ForecastReport, SampleWindow
from thunder.domain.values import level_name

DPI = 100
COLORS = {"history": "#444444", "actual": "#000000", "model": "#1f77b4", "band": "#1f77b4"}
BASELINES = {"model": "model", NAIVE: "naive (last value)", SEASONAL: "seasonal naive"}
STYLE = {
    "model": ("#1f77b4", "o", "-"),
    NAIVE: ("#d62728", "s", "--"),
    SEASONAL: ("#2ca02c", "^", ":"),
}


def forecast_plot(report: ForecastReport, target: int) -> bytes:
    """Forecast vs actual for the sample windows of one target: the history, the actual future,
    the forecast and its quantile bands, on steps counted from the forecast origin."""
    ev = report.evaluation
    samples = list(ev.samples)
    cols = 2 if len(samples) > 1 else 1
    rows = (len(samples) + cols - 1) // cols
    fig = Figure(figsize=(5.5 * cols, 3.4 * rows + 0.6), layout="constrained")
    name = ev.targets[target]
    fig.suptitle(f"{name}: forecast vs actual ({report.title})", fontsize=12)
    axes = fig.subplots(rows, cols, squeeze=False, sharey=False)
    for ax, sample in zip(axes.flat, samples, strict=False):
        _one_window(ax, sample, target, ev.levels, ev.windows)
        ax.set_ylabel(name)
    for ax in list(axes.flat)[len(samples) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
    return _png(fig)


def _one_window(
    ax: Axes, sample: SampleWindow, target: int, levels: Sequence[float], windows: int
) -> None:
    past, future = len(sample.history), len(sample.actual)
    before = range(-past + 1, 1)  # the last observed row is step 0
    after = range(1, future + 1)
    history = sample.history[:, target]
    ax.plot(before, history, color=COLORS["history"], lw=1.2, label="history")
    # the actual line starts at the last observed row, so the two read as one series
    ax.plot(
        [0, *after],
        [history[-1], *sample.actual[:, target]],
        color=COLORS["actual"],
        lw=1.6,
        label="actual",
    )
    if sample.quantiles is not None:
        for lo, hi in _bands(levels):
            ax.fill_between(
                after,
                sample.quantiles[:, target, lo],
                sample.quantiles[:, target, hi],
                color=COLORS["band"],
                alpha=0.18,
                lw=0,
                label=f"{level_name(levels[lo])}-{level_name(levels[hi])} band",
            )
    ax.plot(
        after,
        sample.forecast[:, target],
        color=COLORS["model"],
        lw=1.6,
        ls="--",
        marker="o",
        ms=3,
        label="forecast" if sample.quantiles is None else "forecast (median)",
    )
    ax.axvline(0.5, color="#999999", lw=0.8, ls=":")
    ax.set_title(f"window {sample.index + 1} of {windows}", fontsize=10)
    ax.set_xlabel("steps from the forecast origin")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def error_plot(report: ForecastReport, target: int) -> bytes:
    """MAE by horizon step of one target: the model next to the naive baselines."""
    ev = report.evaluation
    name = ev.targets[target]
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    for part, by_target in ev.by_step.items():
        steps = by_target[name]
        color, marker, ls = STYLE.get(part, ("#7f7f7f", "x", "-"))
        ax.plot(
            range(1, len(steps) + 1),
            [s.mae for s in steps],
            color=color,
            marker=marker,
            ls=ls,
            ms=4,
            label=BASELINES.get(part, part),
        )
    ax.set_title(f"{name}: MAE by horizon step, {ev.windows} windows ({report.title})", fontsize=11)
    ax.set_xlabel("horizon step")
    ax.set_ylabel(f"MAE of {name}")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return _png(fig)


def _bands(levels: Sequence[float]) -> list[tuple[int, int]]:
    """Central intervals (q_a, q_1-a) as level indices, widest first so narrower ones overlay."""
    rounded = [round(a, 6) for a in levels]
    return [
        (i, rounded.index(round(1 - a, 6)))
        for i, a in enumerate(rounded)
        if a < 0.5 and round(1 - a, 6) in rounded
    ]


def _png(fig: Figure) -> bytes:
    """The figure as a PNG with a 128-colour palette: a third of the RGB file's size and no
    visible change (flat colours and their anti-aliased edges)."""
    FigureCanvasAgg(fig)
    rgb = io.BytesIO()
    fig.savefig(rgb, format="png", dpi=DPI, metadata={"Software": None})
    rgb.seek(0)
    out = io.BytesIO()
    with Image.open(rgb) as image:
        image.convert("RGB").quantize(colors=128).save(out, format="PNG", optimize=True)
    return out.getvalue()


def draw(report: ForecastReport) -> list[tuple[str, str, bytes]]:
    """Every figure of the report: (file name, caption, PNG bytes), two per target."""
    out = []
    for i, name in enumerate(report.evaluation.targets):
        slug = _slug(name, i)
        if report.evaluation.samples:
            caption = f"{name}: forecast vs actual on sample windows"
            out.append((f"forecast_{slug}.png", caption, forecast_plot(report, i)))
        caption = f"{name}: MAE by horizon step, model vs naive baselines"
        out.append((f"error_by_step_{slug}.png", caption, error_plot(report, i)))
    return out


def _slug(name: str, index: int) -> str:
    """A file-name-safe form of a column name (index-prefixed when anything had to change)."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in name)
    return safe if safe == name and safe else f"{index}_{safe}"
