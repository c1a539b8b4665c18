"""The real report writer: PNG figures, one self-contained page, and a folder replaced whole."""

import json
from pathlib import Path

import numpy as np
import pytest

from thunder.adapters.reports.html import HtmlReportWriter
from thunder.domain.errors import ArtifactError
from thunder.domain.scoring.evaluation import ForecastReport, Scoreboard, spread
from thunder.domain.values import Prediction, WindowSpec

PNG = b"\x89PNG\r\n\x1a\n"


def report(target: str = "meantemp", levels: tuple[float, ...] = (0.1, 0.5, 0.9)) -> ForecastReport:
    """40 windows of a sine with a noisy forecast, scored in two batches."""
    rng = np.random.default_rng(0)
    y = (20 + 8 * np.sin(np.arange(80) / 9)).astype(np.float32)
    past, future, n = 12, 6, 40
    start = np.arange(n)[:, None]
    history = y[start + np.arange(past)][..., None]  # [n, past, 1]
    actual = y[start + past + np.arange(future)][..., None]  # [n, future, 1]
    point = actual + rng.normal(0, 1, actual.shape).astype(np.float32)
    quantiles = np.stack([point - 1, point, point + 1], axis=-1) if levels else None
    board = Scoreboard([target], 4, spread(3, n))
    for s in (slice(0, 25), slice(25, n)):
        q = None if quantiles is None else quantiles[s]
        board.add(Prediction(point[s], levels, q), actual[s], history[s])
    return ForecastReport(
        "Test <split>", "data/x.csv", "v7", WindowSpec(past, future), board.result()
    )


def plotter() -> HtmlReportWriter:
    pytest.importorskip("matplotlib")
    from thunder.adapters.reports.plots import draw

    return HtmlReportWriter(draw)


def test_the_report_holds_pngs_metrics_and_a_page_that_embeds_them(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    files = plotter().write(report(), str(out))
    assert sorted(Path(f).name for f in files) == [
        "error_by_step_meantemp.png",
        "forecast_meantemp.png",
        "index.html",
        "metrics.json",
    ]
    pngs = sorted(out.glob("*.png"))
    for png in pngs:
        assert png.read_bytes().startswith(PNG) and 5_000 < png.stat().st_size < 200_000
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "Test &lt;split&gt;" in page  # text from outside is escaped
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["windows"] == 40 and metrics["version"] == "v7"
    assert len(metrics["by_step"]["model"]["meantemp"]["mae"]) == 6
    assert set(metrics["baselines"]) == {"naive_last", "seasonal_naive"}
    assert "q10_q90" in metrics["coverage"]["meantemp"]


def test_odd_column_names_make_safe_file_names_and_escaped_text(tmp_path: Path) -> None:
    files = plotter().write(report(target="<b>t/1</b>", levels=()), str(tmp_path / "r"))
    names = sorted(Path(f).name for f in files if f.endswith(".png"))
    assert names == ["error_by_step_0__b_t_1__b_.png", "forecast_0__b_t_1__b_.png"]
    page = (tmp_path / "r" / "index.html").read_text()
    assert "<b>t/1</b>" not in page and "&lt;b&gt;t/1&lt;/b&gt;" in page


def test_without_matplotlib_the_page_has_the_tables_and_says_what_to_install(
    tmp_path: Path,
) -> None:
    writer = HtmlReportWriter(None)
    files = writer.write(report(), str(tmp_path / "r"))
    assert not writer.plots
    assert sorted(Path(f).name for f in files) == ["index.html", "metrics.json"]
    page = (tmp_path / "r" / "index.html").read_text()
    assert "pip install &#x27;thunder[report]&#x27;" in page and "<table>" in page


def test_a_new_report_replaces_the_old_one_whole(tmp_path: Path) -> None:
    out = tmp_path / "r"
    plotter().write(report(), str(out))
    HtmlReportWriter(None).write(report(), str(out))
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "metrics.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no staging folder left behind


def test_a_failed_write_leaves_the_previous_report(tmp_path: Path) -> None:
    out = tmp_path / "r"
    HtmlReportWriter(None).write(report(), str(out))
    before = (out / "index.html").read_text()

    def broken(_: ForecastReport) -> list[tuple[str, str, bytes]]:
        return [("../escape/x.png", "x", b"")]  # a name the staging folder cannot take

    with pytest.raises(ArtifactError, match="cannot write the report"):
        HtmlReportWriter(broken).write(report(), str(out))
    assert (out / "index.html").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_a_folder_with_other_files_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match="is not a thunder report"):
        HtmlReportWriter(None).write(report(), str(tmp_path))
    assert (tmp_path / "notes.txt").read_text() == "mine"
