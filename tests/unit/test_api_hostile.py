"""Bodies and requests a client should never manage to turn into a 500 (or a null forecast)."""

import json
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.unit.conftest import climate_like
from tests.unit.fakes import FakeChunkSource, FakeForecaster
from thunder.app.container import Container
from thunder.domain.values import FloatArray, Prediction
from thunder.entrypoints.http.app import create_app
from thunder.entrypoints.http.schemas import BatchRequest, PredictRequest

HISTORY = {"data": [{"date": f"2017-01-{i + 1:02d}", "meantemp": 10.0 + i} for i in range(10)]}


def _client(container: Container) -> TestClient:
    container.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=64))
    return TestClient(create_app(container))


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with _client(container) as c:
        yield c


def test_a_wrong_method_names_the_allowed_ones(client: TestClient) -> None:
    r = client.get("/predict")
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"[" * 100_000, "invalid_json", None),  # json.loads' RecursionError
        (b'{"data": ' + b"[" * 50_000, "invalid_json", None),
        (b"\xff\xfe\xfd", "invalid_json", None),  # not UTF-8
        (b'{"data": [' + b'{"meantemp": 1' + b"0" * 5000 + b"}]}", "invalid_json", None),
        (json.dumps(HISTORY).replace("19.0", "1e400").encode(), "invalid_history", "data[9]"),
        (
            json.dumps(HISTORY).replace("19.0", "1" + "0" * 1000).encode(),
            "invalid_history",
            "data[9]",
        ),
        (json.dumps(HISTORY).replace("19.0", "1e300").encode(), "invalid_history", "data[9]"),
        (json.dumps(HISTORY).replace("19.0", '"19.0"').encode(), "invalid_history", "data[9]"),
        (json.dumps(HISTORY).replace("19.0", "NaN").encode(), "invalid_history", "data[9]"),
    ],
)
def test_hostile_bodies_are_422_not_500(
    client: TestClient, body: bytes, code: str, field: str | None
) -> None:
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    assert (r.json()["error"]["field"] or "").startswith(field or "")
    assert len(r.content) < 1000  # a huge number is not echoed back whole


def _keys(n: int, value: bytes) -> bytes:
    return b",".join(b'"c%d": %s' % (i, value) for i in range(n))


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{' + _keys(5000, b"[]") + b"}]}",
        b'{"columns": {' + _keys(5000, b"1") + b"}}",
        b'{"columns": {"meantemp": [' + b"[]," * 5000 + b"[]]}}",
        b'{"data": [' + b'{"a": []},' * 5000 + b'{"a": []}]}',
        b'{"series": [' + b"1," * 5000 + b"1]}",
    ],
    ids=["a wide row", "many columns", "a column of lists", "rows of lists", "series of numbers"],
)
def test_a_body_of_bad_values_is_one_error_not_one_per_value(body: bytes) -> None:
    """pydantic reports every bad element unless told otherwise: 1 MiB of them was ~1,000,000
    error objects, 11 s and 1.6 GiB in a real server."""
    model = BatchRequest if body.startswith(b'{"series"') else PredictRequest
    with pytest.raises(ValidationError) as e:
        model.model_validate(json.loads(body))
    assert e.value.error_count() <= 4  # the Value union says why for each of its 4 types


class _Overflowing(FakeForecaster):
    """A model whose forward pass overflows, as a real one does on values far out of range."""

    def predict(self, x: FloatArray) -> Prediction:
        return Prediction(np.full_like(super().predict(x).point, np.nan))


def test_a_forecast_that_overflows_is_422_naming_the_series(container: Container) -> None:
    container.torch_model_loader.override(_Overflowing.from_bytes)
    with _client(container) as c:
        r = c.post("/predict", json=HISTORY)
        batch = c.post("/predict/batch", json={"series": [{"id": "a", **HISTORY}] * 2})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == {
        "code": "invalid_history",
        "message": "the forecast is not a finite number at step 1: the history's values are "
        "too far outside the range the model was trained on",
        "field": "data",
    }
    assert batch.status_code == 422
    assert batch.json()["error"]["field"] == "series[0].data"
