import json

import numpy as np
import pytest
from dependency_injector import providers

from tests.unit.conftest import climate_like
from tests.unit.fakes import FakeChunkSource, InMemoryArtifactStore
from thunder.app import paths
from thunder.app.container import Container
from thunder.app.settings import Settings
from thunder.domain.errors import ArtifactError, MissingColumn, NotEnoughData


def test_training_writes_model_preprocessor_and_card(
    container: Container, settings: Settings, store: InMemoryArtifactStore
) -> None:
    report = container.train_from_chunks()(
        FakeChunkSource(climate_like(200), chunk_size=17)
    ).as_dict()
    assert set(store.files) == {
        settings.model_path,
        settings.preprocessor_path,
        paths.card_path(settings),
    }
    card = json.loads(store.files[paths.card_path(settings)])
    assert card["columns"]["targets"] == ["meantemp"]
    assert card["window"] == {"past_steps": 8, "future_steps": 3}
    assert card["config"]["model_config"]["hidden_size"] == 16
    assert report["data"]["rows"] == 200
    assert {"mae", "rmse"} <= set(report["test"]["meantemp"])


def test_the_naive_model_scores_exactly_the_naive_baseline(container: Container) -> None:
    report = container.train_from_chunks()(
        FakeChunkSource(climate_like(300), chunk_size=50)
    ).as_dict()
    model, naive = report["test"]["meantemp"], report["baselines"]["naive_last"]["meantemp"]
    assert model["mae"] == pytest.approx(naive["mae"], rel=1e-5)
    assert model["rmse"] == pytest.approx(naive["rmse"], rel=1e-5)
    assert naive["mae"] > 0


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_every_train_window_is_seen_once_per_epoch_whatever_the_chunk_size(
    container: Container, chunk_size: int
) -> None:
    from tests.unit.fakes import FakeForecaster

    fake = FakeForecaster((0,), 3)
    container.forecaster.override(providers.Object(fake))
    source = FakeChunkSource(climate_like(200), chunk_size=chunk_size)
    report = container.train_from_chunks()(source).as_dict()
    # train rows 0..140: origins 8..137 -> 130 windows, on each of the two epochs
    assert fake.train_windows_per_epoch == [130, 130]
    assert report["train"]["windows"] == 130
    assert source.largest_chunk <= chunk_size


def test_the_scaler_is_fitted_on_train_rows_only(container: Container) -> None:
    from tests.unit.fakes import FakePreprocessor

    made: list[FakePreprocessor] = []
    container.preprocessor_factory.override(
        lambda cols: made.append(FakePreprocessor(cols)) or made[-1]
    )
    container.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=33))
    assert made[0].rows_fitted == 140  # int(200 * 0.7)


def test_a_failed_commit_keeps_the_previous_model(container: Container, settings: Settings) -> None:
    store = InMemoryArtifactStore()
    container.artifact_store.override(store)
    container.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=50))
    before = dict(store.files)
    store.fail_on_commit = True
    with pytest.raises(ArtifactError):
        container.train_from_chunks()(FakeChunkSource(climate_like(200, seed=1), chunk_size=50))
    assert store.files == before


def test_a_missing_target_column_stops_before_training(
    container: Container, store: InMemoryArtifactStore
) -> None:
    with pytest.raises(MissingColumn, match="meantemp"):
        container.train_from_chunks()(FakeChunkSource({"humidity": np.ones(100)}, chunk_size=10))
    assert store.files == {}


def test_too_little_data_names_the_split(container: Container) -> None:
    with pytest.raises(NotEnoughData, match="the train split"):
        container.train_from_chunks()(FakeChunkSource(climate_like(12), chunk_size=10))


def test_a_configured_time_column_must_exist(container: Container, settings: Settings) -> None:
    settings.preprocessing_config.time_column = "when"
    with pytest.raises(MissingColumn, match="no column 'when'"):
        container.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=50))


def long_format(
    series: int = 3, rows: int = 120
) -> tuple[dict[str, np.ndarray], list[str], list[int]]:
    """`series` series of `rows` rows each, interleaved row by row as in a long-format file."""
    data = climate_like(series * rows)
    ids = [f"s{i % series}" for i in range(series * rows)]
    times = [i // series for i in range(series * rows)]
    return data, ids, times


def test_long_format_windows_stay_within_each_series(
    container: Container, settings: Settings
) -> None:
    from tests.unit.fakes import FakeForecaster, FakePreprocessor

    settings.preprocessing_config.id_column = "id"
    fake = FakeForecaster((0,), 3)
    container.forecaster.override(providers.Object(fake))
    made: list[FakePreprocessor] = []
    container.preprocessor_factory.override(
        lambda cols: made.append(FakePreprocessor(cols)) or made[-1]
    )
    data, ids, times = long_format(series=3, rows=120)
    report = container.train_from_chunks()(
        FakeChunkSource(data, chunk_size=25, series=ids, times=times)
    ).as_dict()
    # per series: train rows 0..84, origins 8..81 -> 74 windows; three series
    assert fake.train_windows_per_epoch == [3 * 74, 3 * 74]
    assert made[0].rows_fitted == 3 * 84
    assert report["data"]["series"] == 3 and report["data"]["rows"] == 360


def test_the_first_pass_fills_the_cache_and_later_passes_and_runs_read_it(
    container: Container,
) -> None:
    source = FakeChunkSource(climate_like(200), chunk_size=30)
    first = container.train_from_chunks()(source).as_dict()
    again = container.train_from_chunks()(source).as_dict()
    # one pass over the source in all: the second run reads only the cache
    assert source.rows_read == 200
    assert (first["data"]["cache"], again["data"]["cache"]) == ("built", "hit")
    assert first["test"] == again["test"]


def test_without_a_cache_every_pass_reads_the_source(
    container: Container, settings: Settings
) -> None:
    settings.preprocessing_config.cache = False
    source = FakeChunkSource(climate_like(200), chunk_size=30)
    report = container.train_from_chunks()(source).as_dict()
    assert report["data"]["cache"] == "off"
    assert source.passes > 3  # check, scale, two epochs of train and val, test


def test_drop_policy_trains_on_the_rows_that_are_left(
    container: Container, settings: Settings
) -> None:
    settings.preprocessing_config.missing = "drop"
    data = climate_like(200)
    data["meantemp"][[5, 50, 150]] = np.nan
    report = container.train_from_chunks()(FakeChunkSource(data, chunk_size=30)).as_dict()
    assert report["data"]["rows"] == 197


@pytest.mark.parametrize(
    ("times", "error"),
    [
        ([*range(100), 99, *range(101, 200)], "row 101, column 'date': the timestamp"),
        ([*range(100), 3, *range(101, 200)], "goes back in time"),
    ],
)
def test_bad_time_order_stops_the_run_before_any_artifact(
    container: Container, store: InMemoryArtifactStore, times: list[int], error: str
) -> None:
    from thunder.domain.errors import OutOfOrder

    with pytest.raises(OutOfOrder, match=error):
        container.train_from_chunks()(
            FakeChunkSource(climate_like(200), chunk_size=30, times=times)
        )
    assert store.files == {}


def test_a_series_shorter_than_one_window_is_named(
    container: Container, settings: Settings
) -> None:
    settings.preprocessing_config.id_column = "id"
    data = climate_like(205)
    ids = ["long"] * 200 + ["tiny"] * 5
    with pytest.raises(NotEnoughData, match="series 'tiny' has 5 rows"):
        container.train_from_chunks()(FakeChunkSource(data, chunk_size=30, series=ids))


def test_the_model_card_keeps_no_api_key(
    container: Container, settings: Settings, store: InMemoryArtifactStore
) -> None:
    secret = "k" * 32
    settings.serving_config.api_keys = [secret]
    container.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=50))
    card = store.files[paths.card_path(settings)]
    assert secret.encode() not in card  # GET / shows the card to anyone
    assert "api_keys" not in json.loads(card)["config"]["serving_config"]
