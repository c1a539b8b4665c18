"""Property-based fuzzing of the HTTP API from its own OpenAPI schema (schemathesis).

Every operation is called in-process (ASGI) with schema-valid and schema-invalid requests, once
with the API open and once with an API key configured, on a real tiny model (its torch forward
pass and scaler are where extreme numbers overflow). No response may be a 5xx, and each must
match what the schema documents: status code, content type, headers and body.
"""

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import settings
from schemathesis import Case
from schemathesis.schemas import BaseSchema

from tests.conftest import small_config
from tests.unit.conftest import climate_like, settings_from
from tests.unit.fakes import FakeChunkSource
from thunder.app.container import Container
from thunder.app.settings import Settings
from thunder.entrypoints.http.app import create_app

EXAMPLES = 200  # per operation; with the coverage phase ~1,200 cases in all
AT_LEAST = 1000  # cases over both apps, asserted when every operation ran
KEY = "fuzz-key-0123456789abcdef"
# A valid-per-schema body is not always a valid history: the schema cannot say "past_steps rows
# whose target columns are finite numbers", so those answers are 422, and rightly so.
NOT_APPLICABLE = [schemathesis.checks.positive_data_acceptance]

CASES: Counter[tuple[str, str]] = Counter()
OPERATIONS: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def model_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A real tiny model trained once for the module, on disk under a temporary folder."""
    tmp = tmp_path_factory.mktemp("fuzz")
    cfg = small_config(tmp)
    cfg["model_config"]["future_steps"] = 3
    cfg["preprocessing_config"]["split_config"].update(past_steps=8, future_steps=3)
    settings = settings_from(tmp, cfg)
    trainer = Container()
    trainer.settings.override(settings)
    trainer.train_from_chunks()(FakeChunkSource(climate_like(200), chunk_size=64))
    return settings


def _schema(name: str, settings: Settings) -> BaseSchema:
    container = Container()
    container.settings.override(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(container))
    OPERATIONS.update((name, op.ok().label) for op in schema.get_all_operations())
    return schema


@pytest.fixture(scope="module")
def open_api(model_settings: Settings) -> BaseSchema:
    return _schema("open", model_settings)


@pytest.fixture(scope="module")
def keyed_api(model_settings: Settings) -> BaseSchema:
    keyed = model_settings.model_copy(deep=True)
    keyed.serving_config.api_keys = [KEY]
    return _schema("keyed", keyed)


@pytest.fixture(scope="module", autouse=True)
def case_count(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the module: print how many cases ran, and hold the count to AT_LEAST."""
    yield
    total = sum(CASES.values())
    per_app = {app: sum(n for (a, _), n in CASES.items() if a == app) for app in ("open", "keyed")}
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown with or without -s
        print(f"\nschemathesis: {total} generated cases {per_app}")
    both_apps = {app for app, _ in OPERATIONS} == {"open", "keyed"}
    if both_apps and set(CASES) >= OPERATIONS:  # a -k selection runs fewer: nothing to hold
        assert total >= AT_LEAST, f"only {total} fuzz cases ran: {dict(CASES)}"


open_schema = schemathesis.pytest.from_fixture("open_api")
keyed_schema = schemathesis.pytest.from_fixture("keyed_api")


@open_schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None)
def test_the_open_api_answers_every_generated_request_as_documented(case: Case) -> None:
    CASES["open", case.operation.label] += 1
    case.call_and_validate(excluded_checks=NOT_APPLICABLE)


@keyed_schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None)
def test_the_keyed_api_answers_every_generated_request_as_documented(case: Case) -> None:
    CASES["keyed", case.operation.label] += 1
    case.call_and_validate(
        headers={"Authorization": f"Bearer {KEY}"}, excluded_checks=NOT_APPLICABLE
    )


def test_the_keyed_schema_declares_both_ways_to_send_the_key(keyed_api: BaseSchema) -> None:
    raw = keyed_api.raw_schema
    assert set(raw["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    for path in ("/predict", "/predict/batch"):
        assert "401" in raw["paths"][path]["post"]["responses"]
        assert raw["paths"][path]["post"]["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    assert "security" not in raw["paths"]["/healthz"]["get"]


def test_a_history_that_overflows_the_real_model_is_422_not_null(open_api: BaseSchema) -> None:
    """1e30 is a finite float32, but the tiny model's forward pass overflows on it: the answer
    names the problem instead of sending `null` forecasts."""
    rows = [{"date": f"2017-01-{i + 1:02d}", "meantemp": 1e30} for i in range(8)]
    with TestClient(open_api.app) as client:
        r = client.post("/predict", json={"data": rows})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith("the forecast is not a finite number")
