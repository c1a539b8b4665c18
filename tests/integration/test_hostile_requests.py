"""Hostile requests against a real `thunder serve` (uvicorn), and its security headers.

Each hostile body must be refused with a JSON 4xx, quickly, without the server holding the body
in memory: the tests measure the time to the answer and the server's peak RSS over the request
(VmHWM after resetting it) and print both. The server has an API key set through the environment,
and the hostile client sends it: a client past authentication is the worst case.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.conftest import Workspace, start_serve, stop, wait_http
from tests.integration.hostile import Answer, PeakMemory, chunked, post, repeated

pytestmark = pytest.mark.integration

KEY = "integration-key-0123456789"
MIB = 1 << 20
JSON = {"Content-Type": "application/json", "X-API-Key": KEY}
ROW = b'{"date": "2017-01-01", "meantemp": 21.5}'
HISTORY = {"data": [json.loads(ROW)] * 30}


@dataclass
class Server:
    pid: int
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture(scope="module")
def server(trained: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("hostile") / "serve.log"
    proc, url = start_serve(trained, log, env={"THUNDER_API_KEYS": KEY})
    try:
        wait_http(url + "/readyz", proc)
        host, port = url.removeprefix("http://").split(":")
        yield Server(proc.pid, host, int(port))
    finally:
        stop(proc)


def _hostile(
    server: Server, request: pytest.FixtureRequest, body: Iterable[bytes], headers: dict[str, str]
) -> tuple[Answer, float]:
    """POST /predict; the answer and the server's peak RSS growth in MiB, both printed."""
    with PeakMemory(server.pid) as memory:
        answer = post(server.host, server.port, "/predict", body, headers)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(
            f"\n{request.node.name}: {answer.status} in {answer.seconds * 1000:.1f} ms, "
            f"server peak RSS +{memory.grew_mib:.1f} MiB, {answer.sent / MIB:.2f} MiB of the body "
            f"sent before the answer"
        )
    return answer, memory.grew_mib


def test_a_100_mib_body_with_its_length_is_413_before_it_is_sent(
    server: Server, request: pytest.FixtureRequest
) -> None:
    headers = {**JSON, "Content-Length": str(100 * MIB)}
    answer, grew = _hostile(server, request, repeated(b" " * 65536, 100 * MIB), headers)
    assert answer.status == 413
    assert answer.json()["error"]["code"] == "body_too_large"
    assert answer.seconds < 1
    assert answer.sent < 16 * MIB  # answered on the header: it never waited for the body
    assert grew < 8


def test_a_100_mib_chunked_body_is_413_after_the_first_mib(
    server: Server, request: pytest.FixtureRequest
) -> None:
    headers = {**JSON, "Transfer-Encoding": "chunked"}
    body = chunked(repeated(b" " * 65536, 100 * MIB))
    answer, grew = _hostile(server, request, body, headers)
    assert answer.status == 413
    assert answer.json()["error"]["code"] == "body_too_large"
    assert answer.seconds < 2
    assert answer.sent < 32 * MIB  # socket buffers in flight, not the 100 MiB
    assert grew < 16  # holds at most the 1 MiB limit, not the body


def test_json_nested_100000_deep_is_422_not_a_recursion_crash(
    server: Server, request: pytest.FixtureRequest
) -> None:
    body = b"[" * 100_000
    answer, grew = _hostile(server, request, [body], {**JSON, "Content-Length": str(len(body))})
    assert answer.status == 422
    assert answer.json()["error"]["code"] == "invalid_json"
    assert answer.seconds < 1
    assert grew < 16


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_million_rows_are_413_without_being_parsed(
    server: Server, request: pytest.FixtureRequest, framing: str
) -> None:
    body = b'{"data": [' + b",".join([ROW] * 1_000_000) + b"]}"
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    if framing == "length":
        answer, grew = _hostile(server, request, pieces, {**JSON, "Content-Length": str(len(body))})
    else:
        headers = {**JSON, "Transfer-Encoding": "chunked"}
        answer, grew = _hostile(server, request, chunked(pieces), headers)
    assert answer.status == 413
    assert answer.seconds < 2
    assert grew < 16


def test_a_mib_of_empty_rows_is_422_and_its_parse_is_the_memory_worst_case(
    server: Server, request: pytest.FixtureRequest
) -> None:
    """`{}` is the densest row JSON has: 1 MiB of them is the most a body under the limit makes
    the parser build (~350,000 dicts), so this bounds a request's memory."""
    rows = (b"{}," * ((MIB - 12) // 3))[:-1]
    body = b'{"data": [' + rows + b"]}"
    answer, grew = _hostile(server, request, [body], {**JSON, "Content-Length": str(len(body))})
    assert answer.status == 422
    assert "at most 100000 rows" in answer.json()["error"]["message"]
    assert answer.seconds < 2
    assert grew < 64  # measured ~36 MiB: ~35 times the body


def _keys(n: int, value: bytes) -> bytes:
    return b",".join(b'"k%d": %s' % (i, value) for i in range(n))


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        # pydantic reported every bad value: 11 s and +1.6 GiB for this one, now the first only
        (b'{"columns": {"meantemp": [' + b"[]," * 349_000 + b"[]]}}", "meantemp.0"),
        (b'{"data": [{' + _keys(70_000, b"[]") + b"}]}", "data[0]: at most 256 columns"),
        (b'{"columns": {' + _keys(70_000, b"1") + b"}}", "columns: at most 256 columns"),
        # 350,000 containers: full garbage collections walked the whole heap (1.2 s), now frozen
        (b'{"data": [' + b"[]," * 349_000 + b"[]]}", "at most 100000 rows"),
    ],
    ids=["a column of lists", "a row of 70000 keys", "70000 columns", "rows of lists"],
)
def test_a_mib_of_bad_values_costs_one_error_not_one_per_value(
    server: Server, request: pytest.FixtureRequest, body: bytes, needle: str
) -> None:
    assert len(body) <= MIB
    answer, grew = _hostile(server, request, [body], {**JSON, "Content-Length": str(len(body))})
    assert answer.status == 422
    assert needle in answer.json()["error"]["message"]
    assert answer.seconds < 1
    assert grew < 64


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (b"1e400", "inf is not a finite number"),
        (b"1" + b"0" * 1000, "outside the float32 range"),
        (b"-3.5e38", "outside the float32 range"),
        (b'"21.5"', "'21.5' is not a number"),
        (b"[21.5]", "meantemp"),
        (b'{"value": 21.5}', "meantemp"),
    ],
    ids=["1e400", "10**1000", "-3.5e38", "string", "list", "object"],
)
def test_huge_numbers_and_strings_where_numbers_belong_are_422(
    server: Server, request: pytest.FixtureRequest, value: bytes, needle: str
) -> None:
    body = json.dumps(HISTORY).encode().replace(b"21.5}]", value + b"}]")
    answer, _ = _hostile(server, request, [body], {**JSON, "Content-Length": str(len(body))})
    assert answer.status == 422, answer.body
    assert needle in answer.json()["error"]["message"]
    assert answer.seconds < 1
    assert len(answer.body) < 1000  # the value is not echoed back whole


def test_the_key_from_the_environment_guards_the_forecast_endpoints(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        refused = client.post("/predict", json=HISTORY)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"
        bearer = {"Authorization": f"Bearer {KEY}"}
        assert client.post("/predict", json=HISTORY, headers=bearer).status_code == 200
        assert client.get("/readyz").status_code == 200


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def test_uvicorn_names_no_server_and_sends_the_security_headers(server: Server) -> None:
    for r in (httpx.get(server.url + "/", timeout=10), httpx.get(server.url + "/nope", timeout=10)):
        assert "server" not in r.headers
        for name, value in SECURITY_HEADERS.items():
            assert r.headers[name] == value
        assert "default-src 'none'" in r.headers["content-security-policy"]


def test_nginx_errors_carry_the_security_headers_and_proxied_ones_are_not_doubled(
    nginx: str,
) -> None:
    too_large = httpx.post(nginx + "/predict", content=b"x" * (2 * MIB), timeout=10)
    docs = httpx.get(nginx + "/docs", timeout=10)
    assert too_large.status_code == 413
    for r in (too_large, docs):
        assert r.headers["server"] == "nginx"  # server_tokens off: no version
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get_list(name) == [value]
        assert len(r.headers.get_list("content-security-policy")) == 1
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
