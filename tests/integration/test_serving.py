"""A real uvicorn process, and the real deploy/nginx.conf in front of it."""

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.integration.conftest import Workspace, start_serve, stop, wait_http

pytestmark = pytest.mark.integration

DATA = json.loads((ROOT / "examples" / "data.json").read_text())


@pytest.fixture(params=["direct", "nginx"])
def base(request: pytest.FixtureRequest, api: str) -> str:
    return api if request.param == "direct" else str(request.getfixturevalue("nginx"))


def test_root_tells_health_and_model(base: str) -> None:
    r = httpx.get(base + "/", timeout=10)
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["model"]["columns"]["targets"] == ["meantemp"]


def test_predict_the_bundled_body(base: str) -> None:
    r = httpx.post(base + "/predict", json=DATA, timeout=10)
    assert r.status_code == 200
    rows = r.json()["predictions"]
    assert len(rows) == 12
    assert rows[0]["date"] == "2017-01-02"  # the day after the last row of examples/data.json
    assert rows[11]["date"] == "2017-01-13"
    # in the data's own units: Delhi's mean temperature, not a z-score
    assert all(0 < row["meantemp"] < 45 for row in rows)


def test_a_bad_body_is_a_json_422(base: str) -> None:
    bad = {"data": [dict(r, meantemp="n/a") for r in DATA["data"]]}
    r = httpx.post(base + "/predict", json=bad, timeout=10)
    assert r.status_code == 422
    assert r.json()["error"]["field"].endswith(".meantemp")


def test_nginx_refuses_a_body_over_1_mib_in_json(nginx: str) -> None:
    r = httpx.post(
        nginx + "/predict",
        content=b"x" * ((1 << 20) + 1),
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large"


def test_nginx_hides_its_version(nginx: str) -> None:
    r = httpx.get(nginx + "/", timeout=10)
    assert r.headers.get("server") == "nginx"


def test_nginx_answers_json_502_when_the_api_is_down(nginx_without_api: str) -> None:
    r = httpx.post(nginx_without_api + "/predict", json=DATA, timeout=10)
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == "upstream_unavailable"


def test_liveness_and_readiness_through_nginx(nginx: str) -> None:
    assert httpx.get(nginx + "/healthz", timeout=10).json() == {"status": "alive"}
    assert httpx.get(nginx + "/readyz", timeout=10).json() == {"status": "ready"}


def test_batch_of_series_through_both(base: str) -> None:
    series = [{"id": f"station-{i}", "data": DATA["data"]} for i in range(5)]
    r = httpx.post(base + "/predict/batch", json={"series": series}, timeout=10)
    assert r.status_code == 200
    forecasts = r.json()["forecasts"]
    assert [f["id"] for f in forecasts] == [s["id"] for s in series]
    single = httpx.post(base + "/predict", json=DATA, timeout=10).json()["predictions"]
    for f in forecasts:  # batched kernels may round differently from a batch of one
        assert [p["date"] for p in f["predictions"]] == [p["date"] for p in single]
        got = [p["meantemp"] for p in f["predictions"]]
        assert got == pytest.approx([p["meantemp"] for p in single], abs=1e-4)


def test_two_workers_serve_the_same_model(trained: Workspace, tmp_path: Path) -> None:
    proc, url = start_serve(trained, tmp_path / "serve.log", "--workers", "2")
    try:
        wait_http(url + "/readyz", proc)
        with httpx.Client(timeout=10) as client:
            codes = [client.post(url + "/predict", json=DATA).status_code for _ in range(20)]
        assert codes == [200] * 20
    finally:
        stop(proc)
    assert (tmp_path / "serve.log").read_text().count("Started server process") == 2


def test_metrics_through_nginx(nginx: str) -> None:
    r = httpx.get(nginx + "/metrics", timeout=10)
    assert r.status_code == 200
    assert "thunder_predictions_total" in r.text


def test_nginx_rate_limits_with_a_json_429(strict_nginx: str) -> None:
    with httpx.Client(timeout=10) as client:
        responses = [client.get(strict_nginx + "/healthz") for _ in range(30)]
    codes = [r.status_code for r in responses]
    assert 200 in codes
    limited = [r for r in responses if r.status_code == 429]
    assert len(limited) >= 10, codes
    assert limited[0].json()["error"]["code"] == "rate_limited"
