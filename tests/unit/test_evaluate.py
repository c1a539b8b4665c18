"""`evaluate` and the test report of `chunk`, through the container with fakes."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from dependency_injector import providers

from tests.unit.conftest import climate_like
from tests.unit.fakes import FakeChunkSource, InMemoryReportWriter
from thunder.app import paths
from thunder.app.container import Container
from thunder.app.settings import Settings
from thunder.domain.errors import MissingColumn, MissingExtra, NotEnoughData
from thunder.entrypoints.cli.main import cli

ROWS = 300  # train 0-210, val 210-255, test 255-300 with the fixture's 0.7 / 0.15 split
PAST, FUTURE = 8, 3


def tail(table: dict[str, np.ndarray], start: int) -> dict[str, np.ndarray]:
    return {k: v[start:] for k, v in table.items()}


def trained(container: Container) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    table = climate_like(ROWS)
    report = container.train_from_chunks()(FakeChunkSource(table, chunk_size=50)).as_dict()
    return report, table


def writer(container: Container) -> InMemoryReportWriter:
    w = container.report_writer()
    assert isinstance(w, InMemoryReportWriter)
    return w


def test_the_test_rows_score_exactly_as_the_training_run_scored_its_test_split(
    container: Container,
) -> None:
    report, table = trained(container)
    # the test windows' inputs reach back past_steps rows into the val split
    done = container.evaluate_model()(FakeChunkSource(tail(table, 255 - PAST), chunk_size=7))
    ev = done.report.evaluation
    assert ev.windows == report["test"]["windows"] == 43
    for key in ("mae", "rmse", "smape", "mase"):
        assert ev.model["meantemp"].as_dict()[key] == pytest.approx(report["test"]["meantemp"][key])
    naive = report["baselines"]["naive_last"]["meantemp"]["mae"]
    assert ev.baselines["naive_last"]["meantemp"].mae == pytest.approx(naive)
    assert [s.mae for s in ev.by_step["model"]["meantemp"]] == pytest.approx(
        report["by_step"]["model"]["meantemp"]["mae"]
    )


def test_the_report_has_errors_per_horizon_step_and_a_few_whole_windows(
    container: Container, settings: Settings
) -> None:
    _, table = trained(container)
    done = container.evaluate_model()(FakeChunkSource(table, chunk_size=50, name="data/new.csv"))
    ev = done.report.evaluation
    assert ev.windows == ROWS - PAST - FUTURE + 1
    steps = ev.by_step["model"]["meantemp"]
    assert len(steps) == FUTURE
    # the step errors average to the overall error (every window has every step)
    assert np.mean([s.mae for s in steps]) == pytest.approx(ev.model["meantemp"].mae)
    # a naive forecast gets worse the further it reaches
    assert steps[0].mae < steps[-1].mae
    assert [s.index for s in ev.samples] == [0, 96, 193, 289]
    first = ev.samples[0]
    assert first.history.shape == (PAST, 1) and first.actual.shape == (FUTURE, 1)
    np.testing.assert_allclose(first.history[:, 0], table["meantemp"][:PAST], rtol=1e-5)
    np.testing.assert_allclose(first.actual[:, 0], table["meantemp"][PAST : PAST + 3], rtol=1e-5)
    # by default beside the model, named after the file
    assert done.directory == str(paths.artifact_dir(settings) / "reports" / "new")
    assert writer(container).reports[done.directory] is done.report


def test_a_quantile_model_reports_coverage_and_keeps_the_bands_of_its_samples(
    container: Container, settings: Settings
) -> None:
    from tests.unit.fakes import FakeForecaster

    container.forecaster.override(providers.Factory(FakeForecaster, (0,), FUTURE, (0.1, 0.5, 0.9)))
    _, table = trained(container)
    ev = container.evaluate_model()(FakeChunkSource(table, chunk_size=64)).report.evaluation
    assert ev.levels == (0.1, 0.5, 0.9)
    assert ev.coverage is not None and set(ev.coverage["meantemp"]) >= {"q10", "q10_q90"}
    assert ev.samples[0].quantiles is not None
    assert ev.samples[0].quantiles.shape == (FUTURE, 1, 3)


def test_chunk_writes_its_test_report_beside_the_model(
    container: Container, settings: Settings
) -> None:
    report, _ = trained(container)
    where = str(paths.artifact_dir(settings) / "reports" / "test-split")
    assert report["report"]["dir"] == where
    written = writer(container).reports[where]
    assert written.version == report["artifacts"]["version"]
    assert written.evaluation.windows == 43
    assert len(written.evaluation.samples) == 4


def test_a_report_that_cannot_be_written_never_fails_the_training_run(
    container: Container,
) -> None:
    container.report_writer.override(providers.Object(InMemoryReportWriter(fail=True)))
    report, _ = trained(container)
    assert "report" not in report
    assert report["artifacts"]["version"] == "v1"


def test_evaluate_without_the_report_extra_names_it(container: Container) -> None:
    trained(container)
    container.report_writer.override(providers.Object(InMemoryReportWriter(plots=False)))
    with pytest.raises(MissingExtra, match=r"pip install 'thunder\[report\]'"):
        container.evaluate_model()(FakeChunkSource(climate_like(50), chunk_size=10))


def test_a_file_shorter_than_one_window_is_named(container: Container) -> None:
    trained(container)
    short = FakeChunkSource(climate_like(PAST + FUTURE - 1), chunk_size=4, name="short.csv")
    with pytest.raises(
        NotEnoughData, match=r"short\.csv: 10 rows, fewer than one window of past_steps=8"
    ):
        container.evaluate_model()(short)


def test_series_all_shorter_than_one_window_are_named(
    container: Container, settings: Settings
) -> None:
    trained(container)
    container.settings.override(
        settings.model_copy(
            update={
                "preprocessing_config": settings.preprocessing_config.model_copy(
                    update={"id_column": "id"}
                )
            }
        )
    )
    two = FakeChunkSource(climate_like(12), chunk_size=5, name="two.csv", series=["a", "b"] * 6)
    with pytest.raises(NotEnoughData, match=r"two\.csv: each of its 2 series .* longest 6"):
        container.evaluate_model()(two)


def test_a_file_without_the_model_columns_is_named(container: Container) -> None:
    trained(container)
    other = FakeChunkSource({"humidity": np.ones(50)}, chunk_size=10, name="other.csv")
    with pytest.raises(MissingColumn, match=r"other\.csv.*meantemp"):
        container.evaluate_model()(other)


def test_the_cli_prints_the_table_and_where_the_report_is(
    container: Container, tmp_path: Path
) -> None:
    _, table = trained(container)
    container.chunk_source.override(
        providers.Factory(lambda path, chunk_size: FakeChunkSource(table, chunk_size, name=path))
    )
    out = tmp_path / "rep"
    result = CliRunner().invoke(
        cli, ["evaluate", "--input", "new.csv", "--out", str(out)], obj=container
    )
    assert result.exit_code == 0, result.output
    assert "evaluated version v1 on new.csv: 290 windows" in result.output
    assert "naive MAE" in result.output and "meantemp MAE by horizon step" in result.output
    assert f"report: {out / 'index.html'}" in result.output


def test_a_cli_error_is_one_line(container: Container) -> None:
    result = CliRunner().invoke(cli, ["evaluate", "--input", "x.csv"], obj=container)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("thunder: error:")
