"""API keys on the forecast endpoints, security headers, and bodies that must not become a 500."""

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.conftest import climate_like, settings_from
from tests.unit.fakes import FakeChunkSource
from thunder.app.container import Container
from thunder.app.settings import Settings
from thunder.domain.errors import ConfigError
from thunder.entrypoints.http.app import create_app
from thunder.entrypoints.http.security import STRICT_CSP

KEY = "k" * 16 + "-first"
OTHER = "o" * 16 + "-second"
HISTORY = {"data": [{"date": f"2017-01-{i + 1:02d}", "meantemp": 10.0 + i} for i in range(10)]}


def _client(container: Container, keys: list[str]) -> TestClient:
    container.settings().serving_config.api_keys = keys
    container.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=64))
    return TestClient(create_app(container))


@pytest.fixture
def open_client(container: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("THUNDER_API_KEYS", raising=False)
    with _client(container, []) as c:
        yield c


@pytest.fixture
def keyed(container: Container, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("THUNDER_API_KEYS", raising=False)
    with _client(container, [KEY, OTHER]) as c:
        yield c


def _batch() -> dict[str, Any]:
    return {"series": [{"id": "a", **HISTORY}]}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-0123456789"},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": KEY},
        {"X-API-Key": "wrong-key-0123456789"},
        {"X-API-Key": KEY[:-1]},
        {"X-API-Key": KEY + "x"},
    ],
)
def test_with_keys_configured_the_forecast_endpoints_refuse_a_missing_or_wrong_key(
    keyed: TestClient, headers: dict[str, str]
) -> None:
    for path, body in (("/predict", HISTORY), ("/predict/batch", _batch())):
        r = keyed.post(path, json=body, headers=headers)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["error"]["code"] == "unauthorized"
        assert "X-API-Key" in r.json()["error"]["message"]
        assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEY}"},
        {"Authorization": f"bearer {OTHER}"},
        {"X-API-Key": KEY},
        {"X-API-Key": OTHER},
        {"Authorization": "Bearer wrong-key-0123456789", "X-API-Key": KEY},
    ],
)
def test_any_configured_key_in_either_header_is_let_through(
    keyed: TestClient, headers: dict[str, str]
) -> None:
    assert keyed.post("/predict", json=HISTORY, headers=headers).status_code == 200
    assert keyed.post("/predict/batch", json=_batch(), headers=headers).status_code == 200


def test_health_metrics_and_docs_stay_open_with_keys(keyed: TestClient) -> None:
    for path in ("/", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
        assert keyed.get(path).status_code == 200, path


def test_a_missing_key_is_401_before_the_body_is_validated(keyed: TestClient) -> None:
    r = keyed.post("/predict", json={"data": "not rows"})
    assert r.status_code == 401


def test_without_keys_the_forecast_endpoints_are_open(open_client: TestClient) -> None:
    assert open_client.post("/predict", json=HISTORY).status_code == 200
    schema = open_client.get("/openapi.json").json()
    assert "securitySchemes" not in schema.get("components", {})
    assert "401" not in schema["paths"]["/predict"]["post"]["responses"]


def test_the_environment_replaces_the_configured_keys(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THUNDER_API_KEYS", f" {OTHER} ,, ")
    with _client(container, [KEY]) as c:
        assert c.post("/predict", json=HISTORY, headers={"X-API-Key": OTHER}).status_code == 200
        assert c.post("/predict", json=HISTORY, headers={"X-API-Key": KEY}).status_code == 401


def test_a_short_key_in_the_environment_is_a_config_error(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THUNDER_API_KEYS", f"{KEY},short")
    with pytest.raises(ConfigError, match="THUNDER_API_KEYS: 1 key"):
        create_app(container)


def test_a_short_key_in_the_config_file_names_the_field(settings: Settings, tmp_path: Any) -> None:
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["serving_config"] = {"api_keys": ["short"]}
    with pytest.raises(ConfigError, match=r"serving_config\.api_keys\.0") as err:
        settings_from(tmp_path, cfg)
    assert "16 characters" in err.value.message


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def test_every_kind_of_answer_carries_the_security_headers(keyed: TestClient) -> None:
    answers = {
        "ok": keyed.get("/"),
        "forecast": keyed.post("/predict", json=HISTORY, headers={"X-API-Key": KEY}),
        "unauthorized": keyed.post("/predict", json=HISTORY),
        "invalid": keyed.post("/predict", json={"data": []}, headers={"X-API-Key": KEY}),
        "not found": keyed.get("/nope"),
        "too large": keyed.post(
            "/predict", content=b"[" * (2 << 20), headers={"content-type": "application/json"}
        ),
        "metrics": keyed.get("/metrics"),
    }
    assert answers["too large"].status_code == 413
    for name, r in answers.items():
        for header, value in SECURITY_HEADERS.items():
            assert r.headers.get(header) == value, (name, header)
        assert r.headers["content-security-policy"] == STRICT_CSP, name


def _sources(policy: str, directive: str) -> list[str]:
    for part in policy.split(";"):
        name, *values = part.split()
        if name == directive:
            return values
    raise AssertionError(f"no {directive} in {policy}")


def _origin(url: str) -> str:
    match = re.match(r"https://[^/]+", url)
    assert match, url
    return match.group(0)


def test_the_docs_page_policy_admits_exactly_what_the_page_loads(open_client: TestClient) -> None:
    r = open_client.get("/docs")
    assert r.status_code == 200
    policy = r.headers["content-security-policy"]
    html = r.text
    scripts = _sources(policy, "script-src")
    for src in re.findall(r'<script src="([^"]+)"', html):
        assert _origin(src) in scripts, src
    for inline in re.findall(r"<script>(.*?)</script>", html, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in scripts
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    for href in re.findall(r'<link type="text/css" rel="stylesheet" href="([^"]+)"', html):
        assert _origin(href) in _sources(policy, "style-src"), href
    for href in re.findall(r'<link rel="shortcut icon" href="([^"]+)"', html):
        assert _origin(href) in _sources(policy, "img-src"), href
    assert "'self'" in _sources(policy, "connect-src")  # it fetches /openapi.json
    assert _sources(policy, "frame-ancestors") == ["'none'"]
    assert r.headers["x-frame-options"] == "DENY"


def test_there_is_one_docs_page(open_client: TestClient) -> None:
    assert open_client.get("/redoc").status_code == 404
