import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.unit.conftest import climate_like
from tests.unit.fakes import FakeChunkSource
from thunder.app.container import Container
from thunder.domain.data.history import future_timestamps
from thunder.domain.errors import ArtifactNotFound, InvalidHistory, MissingColumn


def records(rows: int, start_day: int = 1) -> list[dict[str, Any]]:
    return [
        {"date": f"2017-01-{start_day + i:02d}", "meantemp": 10.0 + i, "humidity": 50.0}
        for i in range(rows)
    ]


def forecast(container: Container, history: Any) -> list[dict[str, Any]]:
    """The served model's rows for one history, as POST /predict answers them."""
    model = container.served_model()
    (rows,) = model.batch([history]).as_json(model.card.columns.time or "timestamp")
    return rows


@pytest.fixture
def trained(container: Container) -> Container:
    container.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=64))
    return container


def test_forecast_is_in_the_data_units_with_dates(trained: Container) -> None:
    rows = forecast(trained, records(10))
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert [r["date"] for r in rows] == ["2017-01-11", "2017-01-12", "2017-01-13"]
    # the fake model repeats the last value: 10 + 9, back in the data's own units
    assert all(r["meantemp"] == pytest.approx(19.0, abs=1e-4) for r in rows)


def test_only_the_last_past_steps_rows_are_used(trained: Container) -> None:
    long = forecast(trained, records(20))
    assert long[0]["meantemp"] == pytest.approx(29.0, abs=1e-4)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (records(5), "at least 8 rows"),
        ([{**r, "meantemp": "warm"} if i == 9 else r for i, r in enumerate(records(10))], "row 9"),
        (
            [{k: v for k, v in r.items() if k != "meantemp"} for r in records(10)],
            "no column 'meantemp'",
        ),
        ([{**r, "meantemp": math.nan} for r in records(10)], "not a finite number"),
        ([{**r, "meantemp": None} for r in records(10)], "is not a number"),
        ([{**r, "meantemp": True} for r in records(10)], "is not a number"),
        ([{**r, "meantemp": 3.5e38} for r in records(10)], "outside the float32 range"),
        ([{**r, "meantemp": -(10**1000)} for r in records(10)], r"-1000000000\S*\.\.\. \(1002"),
        ([{**r, "meantemp": "x" * 100_000} for r in records(10)], r"'xxxx\S*\.\.\. \(100002"),
    ],
)
def test_bad_history_names_the_row_and_column(trained: Container, body: Any, needle: str) -> None:
    with pytest.raises(InvalidHistory, match=needle):
        forecast(trained, body)


def test_serving_without_a_trained_model_names_the_missing_file(container: Container) -> None:
    with pytest.raises(ArtifactNotFound, match=r"card\.json"):
        container.served_model()


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (["2016-12-30", "2016-12-31"], ["2017-01-01", "2017-01-02"]),
        (
            ["2018-02-20 22:00:00", "2018-02-20 23:00:00"],
            ["2018-02-21 00:00:00", "2018-02-21 01:00:00"],
        ),
        (["2017-01-01", "2017-01-03", "2017-01-04"], None),  # irregular
        (["yesterday", "today"], None),
    ],
)
def test_future_timestamps_follow_the_input_spacing_and_format(
    times: list[str], expected: Any
) -> None:
    recs = [{"date": t} for t in times]
    assert future_timestamps(recs, "date", 2) == expected


def test_history_matrix_is_float32() -> None:
    from thunder.domain.data.history import history_matrix

    m = history_matrix(records(3), ["meantemp", "humidity"], 2)
    assert m.dtype == np.float32 and m.tolist() == [[11.0, 50.0], [12.0, 50.0]]


def test_a_quantile_model_adds_a_column_per_level_around_the_point_forecast(
    container: Container,
) -> None:
    from dependency_injector import providers

    from tests.unit.fakes import FakeForecaster

    container.forecaster.override(providers.Factory(FakeForecaster, (0,), 3, (0.1, 0.5, 0.9)))
    report = container.train_from_chunks()(
        FakeChunkSource(climate_like(200), chunk_size=64)
    ).as_dict()
    shares = report["coverage"]["meantemp"]
    assert set(shares) == {"q10", "q50", "q90", "q10_q90"}
    assert shares["q10"] <= shares["q50"] <= shares["q90"]
    assert shares["q10_q90"] == pytest.approx(shares["q90"] - shares["q10"], abs=1e-9)
    rows = forecast(container, records(10))
    first = {k: v for k, v in rows[0].items() if k not in ("step", "date")}
    assert list(first) == ["meantemp", "meantemp_q10", "meantemp_q50", "meantemp_q90"]
    assert (
        first["meantemp_q10"] < first["meantemp"] == first["meantemp_q50"] < first["meantemp_q90"]
    )


def with_calendar(container: Container, tmp_path: Path, feature: str) -> None:
    """The fixture's settings (past 8, future 3) plus one calendar feature: 3 inputs."""
    from tests.conftest import small_config
    from tests.unit.conftest import settings_from

    cfg = small_config(tmp_path)
    cfg["model_config"].update(future_steps=3, num_features=3)
    cfg["preprocessing_config"]["split_config"].update(past_steps=8, future_steps=3)
    cfg["preprocessing_config"]["calendar_features"] = [feature]
    container.settings.override(settings_from(tmp_path, cfg))


def test_calendar_features_train_from_the_time_column_and_serve_from_the_records(
    container: Container, tmp_path: Path
) -> None:
    with_calendar(container, tmp_path, "day_of_week")
    day = 86_400 * 10**9
    source = FakeChunkSource(climate_like(200), chunk_size=64, times=[i * day for i in range(200)])
    container.train_from_chunks()(source)
    card = container.served_model().card
    assert card.columns.inputs == ("meantemp", "day_of_week_sin", "day_of_week_cos")
    rows = forecast(container, records(10))
    assert rows[0]["meantemp"] == pytest.approx(19.0, abs=1e-4)
    bad = records(10)
    bad[4] = {**bad[4], "date": "someday"}
    with pytest.raises(InvalidHistory, match="row 4, column 'date'"):
        forecast(container, bad)


def test_calendar_features_without_a_time_column_stop_the_run(
    container: Container, tmp_path: Path
) -> None:
    with_calendar(container, tmp_path, "hour")
    with pytest.raises(MissingColumn, match="calendar_features need a time column"):
        container.train_from_chunks()(
            FakeChunkSource(climate_like(200), chunk_size=64, time_column=None)
        )


def as_columns(recs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [r[name] for r in recs] for name in recs[0]}


def test_columns_give_the_same_inputs_and_timestamps_as_records() -> None:
    from thunder.domain.data.history import history_matrix

    recs = records(5)
    np.testing.assert_array_equal(
        history_matrix(as_columns(recs), ["meantemp", "humidity"], 3),
        history_matrix(recs, ["meantemp", "humidity"], 3),
    )
    assert future_timestamps(as_columns(recs), "date", 2) == future_timestamps(recs, "date", 2)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "row 3, column 'meantemp': True is not a number"),
        ("12", "row 3, column 'meantemp': '12' is not a number"),
        (None, "row 3, column 'meantemp': None is not a number"),
        (float("nan"), "row 3, column 'meantemp': nan is not a finite number"),
        (10**400, "is outside the float32 range"),
        (1e39, "row 3, column 'meantemp': 1e+39 is outside the float32 range"),
    ],
)
def test_a_bad_value_is_named_in_either_form(value: object, message: str) -> None:
    from thunder.domain.data.history import history_matrix

    recs = records(5)
    recs[3]["meantemp"] = value
    for history, field in (
        (recs, "data[3].meantemp"),
        (as_columns(recs), "columns.meantemp[3]"),
    ):
        with pytest.raises(
            InvalidHistory, match=message.replace("(", r"\(").replace("+", r"\+")
        ) as e:
            history_matrix(history, ["meantemp", "humidity"], 3)
        assert e.value.field == field


def test_a_missing_column_is_named_in_either_form() -> None:
    from thunder.domain.data.history import history_matrix

    recs = records(4)
    del recs[2]["humidity"]
    with pytest.raises(InvalidHistory, match="row 2 has no column 'humidity'"):
        history_matrix(recs, ["meantemp", "humidity"], 3)
    with pytest.raises(InvalidHistory, match="no column 'wind'") as e:
        history_matrix(as_columns(records(4)), ["meantemp", "wind"], 3)
    assert e.value.field == "columns.wind"
