"""`thunder.load` through the container with fakes: forecasts from DataFrames equal what /predict
answers for the same rows, and `evaluate` scores as `thunder evaluate` does."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dependency_injector import providers

import thunder
from tests.unit.fakes import FakeForecaster, InMemoryReportWriter
from tests.unit.test_library_train import demo_frame
from thunder.app.container import Container
from thunder.app.settings import Settings
from thunder.domain.errors import ArtifactNotFound, InvalidArgument, InvalidHistory, MissingColumn
from thunder.entrypoints.library.model import TrainedModel, load_from
from thunder.entrypoints.library.training import train_with


@pytest.fixture
def model(container: Container) -> TrainedModel:
    return train_with(container, demo_frame(), chunk_size=50).load()


def test_a_forecast_is_a_frame_of_steps_dates_and_targets(model: TrainedModel) -> None:
    out = model.predict(demo_frame().tail(20))
    assert list(out.columns) == ["step", "date", "meantemp"]
    assert out["step"].tolist() == [1, 2, 3]
    # the history ends on 2020-07-18 (day 200), one row a day
    assert out["date"].tolist() == ["2020-07-19", "2020-07-20", "2020-07-21"]
    assert out["meantemp"].dtype == np.float64


def test_a_forecast_equals_what_the_http_path_answers_for_the_same_rows(
    container: Container, model: TrainedModel
) -> None:
    history = demo_frame().tail(20)
    served = container.load_model()()
    (rows,) = served.batch([history.to_dict(orient="records")]).as_json("date")
    assert model.predict(history).to_dict(orient="records") == rows


def test_only_the_last_past_steps_rows_count(model: TrainedModel) -> None:
    history = demo_frame()
    pd.testing.assert_frame_equal(model.predict(history), model.predict(history.tail(8)))


@pytest.mark.parametrize("tz", [None, "Europe/Berlin"])
def test_datetime_histories_get_datetime_forecasts(model: TrainedModel, tz: str | None) -> None:
    history = demo_frame().tail(10)
    history = history.set_index(pd.DatetimeIndex(history.pop("date")).tz_localize(tz))
    out = model.predict(history)
    expected = pd.date_range("2020-07-19", periods=3, freq="D", tz=tz)
    assert list(out["date"]) == list(expected)
    assert str(out["date"].dt.tz) == str(tz)


@pytest.mark.parametrize("end", ["2016-10-29", "2016-10-31", "2016-03-27"])
def test_a_daily_zoned_forecast_keeps_its_wall_clock_across_a_dst_change(
    model: TrainedModel, end: str
) -> None:
    # Berlin leaves summer time on 2016-10-30 (a 25-hour day) and enters it on 2016-03-27
    history = demo_frame().tail(10)
    dates = pd.date_range(end=end, periods=10, freq="D", tz="Europe/Berlin")
    history = history.set_index(pd.DatetimeIndex(dates, name="date")).drop(columns="date")
    out = model.predict(history)
    start = dates[-1].tz_localize(None) + pd.Timedelta(days=1)
    expected = pd.date_range(start, periods=3, freq="D", tz="Europe/Berlin")
    assert list(out["date"]) == list(expected)
    assert (out["date"].dt.hour == 0).all()


def test_irregular_times_leave_the_dates_empty(model: TrainedModel) -> None:
    history = demo_frame().tail(10)
    history.iloc[-1, 0] = "2021-01-01"
    out = model.predict(history)
    assert out["date"].isna().all() and out["meantemp"].notna().all()


def test_a_quantile_model_has_a_column_per_level(container: Container) -> None:
    container.forecaster.override(providers.Factory(FakeForecaster, (0,), 3, (0.1, 0.5, 0.9)))
    model = train_with(container, demo_frame()).load()
    out = model.predict(demo_frame().tail(8))
    assert list(out.columns) == [
        "step",
        "date",
        "meantemp",
        "meantemp_q10",
        "meantemp_q50",
        "meantemp_q90",
    ]
    assert (out["meantemp_q10"] < out["meantemp"]).all()


def test_many_series_keep_their_keys_and_equal_one_at_a_time(model: TrainedModel) -> None:
    histories = {"b": demo_frame(seed=1).tail(9), 7: demo_frame(seed=2).tail(8)}
    out = model.predict_many(histories)
    assert list(out) == ["b", 7]
    for key, history in histories.items():
        pd.testing.assert_frame_equal(out[key], model.predict(history))
    assert model.predict_many({}) == {}


def test_a_short_history_is_refused_with_the_rows_it_needs(model: TrainedModel) -> None:
    with pytest.raises(InvalidHistory, match="need at least 8 rows"):
        model.predict(demo_frame().tail(5))


def test_a_bad_value_is_named_by_its_row_in_the_whole_frame(model: TrainedModel) -> None:
    history = demo_frame().head(30)
    history.loc[27, "meantemp"] = float("nan")
    with pytest.raises(InvalidHistory, match="row 27, column 'meantemp'"):
        model.predict(history)


def test_a_bad_series_in_a_batch_is_named_by_its_key(model: TrainedModel) -> None:
    with pytest.raises(InvalidHistory, match=r"histories\['short'\]: need at least 8"):
        model.predict_many({"ok": demo_frame().tail(8), "short": demo_frame().tail(3)})


@pytest.mark.parametrize("histories", [[demo_frame().tail(8)], "abc"])
def test_many_series_must_come_in_a_mapping(model: TrainedModel, histories: object) -> None:
    with pytest.raises(InvalidArgument, match="histories: expected a mapping") as e:
        model.predict_many(histories)  # type: ignore[arg-type]
    assert e.value.field == "histories"


def test_a_history_without_a_column_the_model_reads_names_it(model: TrainedModel) -> None:
    with pytest.raises(MissingColumn, match="no column 'meantemp'"):
        model.predict(demo_frame().drop(columns="meantemp"))
    with pytest.raises(InvalidArgument, match="expected a pandas DataFrame"):
        model.predict({"meantemp": [1.0] * 8})  # type: ignore[arg-type]


def test_a_named_version_loads_and_an_unknown_one_is_not_found(container: Container) -> None:
    first = train_with(container, demo_frame())
    second = train_with(container, demo_frame(seed=1))
    assert load_from(container).version == second.version
    assert load_from(container, version=first.version).version == first.version
    with pytest.raises(ArtifactNotFound):
        load_from(container, version="v99")
    with pytest.raises(InvalidArgument, match="version"):
        load_from(container, version=1)  # type: ignore[arg-type]


def test_evaluate_scores_this_version_on_a_frame_as_on_its_csv(
    container: Container, model: TrainedModel, tmp_path: Path
) -> None:
    train_with(container, demo_frame(seed=1))  # a newer version: the loaded one is scored
    data = demo_frame(seed=3)
    data.to_csv(tmp_path / "new.csv", index=False)
    on_frame = model.evaluate(data, chunk_size=64)
    on_file = model.evaluate(tmp_path / "new.csv", chunk_size=64)
    assert on_frame.report.version == model.version
    assert on_frame.report.evaluation.as_dict() == on_file.report.evaluation.as_dict()
    assert on_frame.directory.endswith("reports/DataFrame")
    writer = container.report_writer()
    assert isinstance(writer, InMemoryReportWriter)
    assert {on_frame.directory, on_file.directory} <= set(writer.reports)


def test_evaluate_refuses_an_out_that_is_not_a_path(model: TrainedModel) -> None:
    with pytest.raises(InvalidArgument, match="out: expected the path") as e:
        model.evaluate(demo_frame(), out=5)  # type: ignore[arg-type]
    assert e.value.field == "out"


def test_loading_before_any_training_says_so(settings: Settings) -> None:
    with pytest.raises(ArtifactNotFound, match="no such artifact"):
        thunder.load(settings)
