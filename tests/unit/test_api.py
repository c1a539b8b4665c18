import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.conftest import climate_like
from tests.unit.fakes import FakeChunkSource
from thunder.app.container import Container
from thunder.entrypoints.http.app import create_app


def body(rows: int = 10) -> dict[str, Any]:
    return {"data": [{"date": f"2017-01-{i + 1:02d}", "meantemp": 10.0 + i} for i in range(rows)]}


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    container.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=64))
    serving = container.settings().serving_config
    serving.max_body_bytes = 10_000
    serving.max_series_per_request = 3
    with TestClient(create_app(container)) as c:
        yield c


def test_root_reports_health_and_the_model_card(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["model"]["window"] == {"past_steps": 8, "future_steps": 3}


def test_predict_returns_future_rows_with_dates_in_data_units(client: TestClient) -> None:
    r = client.post("/predict", json=body())
    assert r.status_code == 200
    rows = r.json()["predictions"]
    assert rows[0] == {"step": 1, "date": "2017-01-11", "meantemp": pytest.approx(19.0, abs=1e-4)}
    assert len(rows) == 3


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"data": []}, "data"),
        ({"rows": []}, "rows"),
        ({"data": "x"}, "data"),
        (body(3), "data"),
        ({"data": [{"meantemp": "hot"}] * 10}, "data[2].meantemp"),
        ({"data": [{"meantemp": [1]}] * 10}, "data.0.meantemp"),
    ],
)
def test_bad_bodies_are_422_json_naming_the_field(
    client: TestClient, payload: Any, field: str
) -> None:
    r = client.post("/predict", json=payload)
    assert r.status_code == 422
    err = r.json()["error"]
    assert field in (err["field"] or "") or field in err["message"]
    assert err["code"] and err["message"]


def test_invalid_json_is_422_not_500(client: TestClient) -> None:
    r = client.post("/predict", content=b'{"data": [', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_json"


def test_a_body_over_the_limit_is_413_with_or_without_a_length(client: TestClient) -> None:
    big = json.dumps(body(400)).encode()
    assert (
        client.post(
            "/predict", content=big, headers={"content-type": "application/json"}
        ).status_code
        == 413
    )

    def stream() -> Iterator[bytes]:
        yield big[:5000]
        yield big[5000:]

    r = client.post("/predict", content=stream(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large"


def test_liveness_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_the_columnar_form_gives_the_same_forecast(client: TestClient) -> None:
    records = body()["data"]
    columnar = {"columns": {k: [r[k] for r in records] for k in records[0]}}
    a = client.post("/predict", json=body()).json()
    b = client.post("/predict", json=columnar).json()
    assert a == b


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"columns": {"meantemp": [1.0] * 10, "date": ["2017-01-01"] * 9}}, "same length"),
        ({"columns": {"meantemp": [1.0] * 10}, "data": body()["data"]}, "exactly one"),
        ({}, "exactly one"),
    ],
)
def test_bad_columnar_bodies_are_422(client: TestClient, payload: Any, needle: str) -> None:
    r = client.post("/predict", json=payload)
    assert r.status_code == 422
    assert needle in r.json()["error"]["message"]


def _series(i: int, rows: int = 10) -> dict[str, Any]:
    return {
        "id": f"s{i}",
        "data": [{"date": f"2017-01-{d + 1:02d}", "meantemp": 5.0 * i + d} for d in range(rows)],
    }


def test_batch_forecasts_equal_single_forecasts(client: TestClient) -> None:
    series = [_series(i) for i in range(3)]
    r = client.post("/predict/batch", json={"series": series})
    assert r.status_code == 200
    forecasts = r.json()["forecasts"]
    assert [f["id"] for f in forecasts] == ["s0", "s1", "s2"]
    for s, f in zip(series, forecasts, strict=True):
        single = client.post("/predict", json={"data": s["data"]}).json()["predictions"]
        assert f["predictions"] == single


def test_batch_over_the_cap_is_422(client: TestClient) -> None:
    r = client.post("/predict/batch", json={"series": [_series(i, 8) for i in range(4)]})
    assert r.status_code == 422
    assert "at most 3 series" in r.json()["error"]["message"]


def test_a_bad_series_in_a_batch_is_named(client: TestClient) -> None:
    r = client.post("/predict/batch", json={"series": [_series(0), _series(1, rows=2)]})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "series[1].data"


def _sample(text: str, name: str) -> float:
    """The value of one sample line (`name{labels} value`) of the Prometheus text format."""
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key == name:
            return float(value)
    raise AssertionError(f"{name} not in /metrics")


def test_metrics_count_what_was_sent(client: TestClient) -> None:
    for _ in range(3):
        client.post("/predict", json=body())
    client.post("/predict", json={"data": []})
    client.post("/predict/batch", json={"series": [_series(0), _series(1)]})
    text = client.get("/metrics").text
    assert _sample(text, 'thunder_predictions_total{endpoint="predict"}') == 3
    assert _sample(text, 'thunder_predictions_total{endpoint="predict_batch"}') == 2
    assert _sample(text, 'http_requests_total{handler="/predict",method="POST",status="2xx"}') == 3
    assert _sample(text, 'http_requests_total{handler="/predict",method="POST",status="4xx"}') == 1
    assert "thunder_model_info{" in text
    assert "http_request_duration_seconds_bucket" in text


def test_each_request_is_one_json_access_line_with_its_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    access = logging.getLogger("thunder.access")  # does not propagate: it writes to stdout itself
    access.addHandler(caplog.handler)
    try:
        r = client.post("/predict", json=body(), headers={"X-Request-ID": "abc-123"})
        fresh = client.get("/healthz")
    finally:
        access.removeHandler(caplog.handler)
    assert r.headers["x-request-id"] == "abc-123"
    assert len(fresh.headers["x-request-id"]) == 32
    lines = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "thunder.access"]
    assert lines[0]["request_id"] == "abc-123"
    assert lines[0]["path"] == "/predict"
    assert lines[0]["status"] == 200
    assert lines[0]["duration_ms"] > 0
    assert lines[1]["request_id"] == fresh.headers["x-request-id"]


def _app_with_token(
    container: Container, monkeypatch: pytest.MonkeyPatch, token: str | None
) -> TestClient:
    if token is None:
        monkeypatch.delenv("THUNDER_ADMIN_TOKEN", raising=False)
    else:
        monkeypatch.setenv("THUNDER_ADMIN_TOKEN", token)
    container.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=64))
    return TestClient(create_app(container))


def test_reload_is_off_without_a_token(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _app_with_token(container, monkeypatch, None) as c:
        r = c.post("/admin/reload", headers={"Authorization": "Bearer x"})
    assert r.status_code == 404
    assert "THUNDER_ADMIN_TOKEN" in r.json()["error"]["message"]


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "s3cret", "Basic s3cret"])
def test_reload_needs_the_bearer_token(
    container: Container, monkeypatch: pytest.MonkeyPatch, auth: str | None
) -> None:
    with _app_with_token(container, monkeypatch, "s3cret") as c:
        r = c.post("/admin/reload", headers={"Authorization": auth} if auth else {})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"


def test_reload_swaps_in_the_newly_trained_model(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _app_with_token(container, monkeypatch, "s3cret") as c:
        first = c.get("/").json()["model"]["data"]["sha256"]
        source = FakeChunkSource(climate_like(250), chunk_size=64)
        container.train_from_chunks()(source)
        assert c.get("/").json()["model"]["data"]["sha256"] == first  # not before reload
        r = c.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200, r.text
        assert r.json()["model"]["data_sha256"] == source.fingerprint() != first
        assert c.get("/").json()["model"]["data"]["sha256"] == source.fingerprint()
        assert f'data_sha256="{source.fingerprint()}"' in c.get("/metrics").text
        assert f'data_sha256="{first}"' not in c.get("/metrics").text


def test_a_failed_reload_keeps_serving_the_old_model(
    container: Container, monkeypatch: pytest.MonkeyPatch, store: Any
) -> None:
    settings = container.settings()
    with _app_with_token(container, monkeypatch, "s3cret") as c:
        store.files[settings.model_path] = b"not a model"
        r = c.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "reload_failed"
        assert "still serving the model trained at" in r.json()["error"]["message"]
        assert c.post("/predict", json=body()).status_code == 200


def test_unknown_routes_are_json_errors(client: TestClient) -> None:
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.get("/predict")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
