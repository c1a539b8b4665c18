"""`thunder.train` through the container with fakes: DataFrames, lists and generators of them
train as the file with the same rows does, and every wrong input is a ThunderError."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dependency_injector import providers

import thunder
from tests.unit.conftest import climate_like
from tests.unit.fakes import InMemoryArtifactStore
from thunder.app import paths
from thunder.app.container import Container
from thunder.app.settings import Settings
from thunder.domain.errors import (
    ConfigError,
    DataError,
    InvalidArgument,
    MissingColumn,
    ThunderError,
)
from thunder.entrypoints.library.training import train_with


def demo_frame(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """Daily rows with the date as text, as pd.read_csv gives a CSV's date column."""
    dates = pd.date_range("2020-01-01", periods=rows, freq="D").strftime("%Y-%m-%d")
    return pd.DataFrame({"date": dates, **climate_like(rows, seed)})


def test_training_from_a_dataframe_publishes_a_version(
    container: Container, settings: Settings, store: InMemoryArtifactStore
) -> None:
    run = train_with(container, demo_frame(), chunk_size=40)
    assert run.version == store.current
    assert set(store.files) == {
        settings.model_path,
        settings.preprocessor_path,
        paths.card_path(settings),
    }
    report = run.report
    assert report.data.rows == 200 and report.data.file == "DataFrame"
    assert report.test is not None and report.test.model["meantemp"]["mae"] > 0


def test_a_dataframe_scores_exactly_as_the_csv_file_of_its_rows(
    container: Container, tmp_path: Path
) -> None:
    frame = demo_frame()
    csv = tmp_path / "data.csv"
    frame.to_csv(csv, index=False)
    from_file = train_with(container, csv, chunk_size=40).report
    from_frame = train_with(container, frame, chunk_size=40).report
    assert from_frame.test == from_file.test
    assert from_frame.data.rows == from_file.data.rows == 200


def _pieces(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


@pytest.mark.parametrize(
    "shape",
    ["list of frames", "one-shot generator", "DatetimeIndex", "named index", "read_csv chunks"],
)
def test_every_shape_of_the_same_rows_trains_alike(
    container: Container, settings: Settings, tmp_path: Path, shape: str
) -> None:
    frame = demo_frame()
    expected = train_with(container, frame, chunk_size=40).report.test
    data: Any
    if shape == "list of frames":
        data = list(_pieces(frame, 33))
    elif shape == "one-shot generator":
        data = _pieces(frame, 33)
    elif shape == "DatetimeIndex":  # unnamed: it takes the time column's name
        data = frame.set_index(pd.DatetimeIndex(frame.pop("date")))
    elif shape == "named index":
        data = frame.set_index("date")
    else:
        frame.to_csv(tmp_path / "data.csv", index=False)
        data = pd.read_csv(tmp_path / "data.csv", chunksize=50)
    assert train_with(container, data, chunk_size=40).report.test == expected
    # a generator's one copy is gone once the run is over
    assert not list(paths.cache_dir(settings).glob(".frames-*"))


def test_a_frame_without_the_target_column_names_it(
    container: Container, store: InMemoryArtifactStore
) -> None:
    with pytest.raises(MissingColumn, match="meantemp") as caught:
        train_with(container, demo_frame().drop(columns="meantemp"))
    assert caught.value.field == "meantemp"
    assert store.files == {}


def test_a_later_frame_without_a_column_is_named_by_position(container: Container) -> None:
    pieces = list(_pieces(demo_frame(), 50))
    pieces[2] = pieces[2].drop(columns="meantemp")
    with pytest.raises(DataError, match="frame 3"):
        train_with(container, iter(pieces))
    with pytest.raises(MissingColumn, match="frame 3"):
        train_with(container, pieces)


@pytest.mark.parametrize(
    ("data", "kind"),
    [(42, "int"), (None, "NoneType"), ({"a": 1}, "dict"), ([demo_frame(), 3], "item 2 is a int")],
)
def test_data_of_the_wrong_kind_is_an_invalid_argument(
    container: Container, store: InMemoryArtifactStore, data: object, kind: str
) -> None:
    with pytest.raises(InvalidArgument, match=kind):
        train_with(container, data)  # type: ignore[arg-type]
    assert store.files == {}


@pytest.mark.parametrize("size", [0, -5, "500", 2.5, True])
def test_a_chunk_size_that_is_not_a_row_count_is_an_invalid_argument(
    container: Container, size: object
) -> None:
    with pytest.raises(InvalidArgument, match="chunk_size"):
        train_with(container, demo_frame(), chunk_size=size)  # type: ignore[arg-type]


def test_a_config_of_the_wrong_kind_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="config: expected a path"):
        thunder.train(demo_frame(), 42)  # type: ignore[arg-type]


def test_several_processes_are_refused_with_the_command_that_runs_them(
    container: Container, settings: Settings
) -> None:
    settings.training_config.devices = 2
    with pytest.raises(ConfigError, match="thunder chunk"):
        train_with(container, demo_frame())


def test_the_public_train_reads_the_config_and_says_what_is_missing(
    settings: Settings, tmp_path: Path
) -> None:
    """The real container, built by bootstrap: the check pass fails before any model loads."""
    with pytest.raises(MissingColumn, match="meantemp"):
        thunder.train(demo_frame().drop(columns="meantemp"), settings)
    with pytest.raises(ThunderError, match="no such file"):
        thunder.train(tmp_path / "nope.csv", settings)


def test_the_run_loads_the_version_it_published(container: Container) -> None:
    first = train_with(container, demo_frame())
    train_with(container, demo_frame(seed=1))
    model = first.load()
    assert model.version == first.version
    assert model.card.data["sha256"] == first.report.data.sha256


def test_a_users_module_and_callbacks_reach_the_forecaster(
    container: Container, settings: Settings
) -> None:
    from tests.unit.fakes import FakeForecaster

    made: list[FakeForecaster] = []

    def forecaster(**kwargs: Any) -> FakeForecaster:
        made.append(FakeForecaster((0,), settings.window.future_steps, **kwargs))
        return made[-1]

    module, callback = object(), object()
    with container.forecaster.override(providers.Factory(forecaster)):
        train_with(container, demo_frame(), chunk_size=40, module=module, callbacks=[callback])  # type: ignore[arg-type,list-item]
    assert made[0].module is module
    assert made[0].options is not None and made[0].options.callbacks == (callback,)
    assert made[0].network is not None and made[0].network.architecture == "custom"


def test_callbacks_must_be_a_list(container: Container) -> None:
    with pytest.raises(InvalidArgument, match="callbacks must be a list"):
        train_with(container, demo_frame(), chunk_size=40, callbacks="early")  # type: ignore[arg-type]


def test_a_checkpoint_of_one_network_never_resumes_another(
    container: Container, settings: Settings
) -> None:
    """The run id behind --resume names a user's network too: resuming with another module
    finds no checkpoint instead of loading weights that do not fit."""
    from tests.unit.fakes import FakeForecaster

    made: list[FakeForecaster] = []

    def forecaster(**kwargs: Any) -> FakeForecaster:
        made.append(FakeForecaster((0,), settings.window.future_steps, **kwargs))
        return made[-1]

    class One:
        architecture = object()

    class Other:
        architecture = 1

    with container.forecaster.override(providers.Factory(forecaster)):
        for module in (None, One(), Other(), One()):
            train_with(container, demo_frame(), chunk_size=40, module=module)  # type: ignore[arg-type]
    ids = [f.run_id for f in made]
    assert len(set(ids[:3])) == 3 and ids[1] == ids[3]
