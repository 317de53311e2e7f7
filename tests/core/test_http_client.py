"""Protects: the one retry loop every API client uses (``aion_assets.core.http_client``), against a real
HTTP server on a loopback port that answers from a script and counts what reaches it: a 4xx (and any
status outside 500/502/503/504) is sent once; a retried status or a refused connection is sent at
most MAX_RETRIES + 1 times; each wait is the doubled backoff with its jitter in [0.5, 1.5), capped
at MAX_DELAY, and the call stops before the waits would pass MAX_TOTAL_DELAY; the error carries the
status, the server's message and field, the attempt count, and is the client's own subclass.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from aion_assets.core.errors import AionError
from aion_assets.core.http_client import ApiClientError, RetryingHttpClient, RetryPolicy
from aion_assets.core.serve import free_port
from aion_assets.memory.client import MemoryApiError
from aion_assets.registry.http_client import RegistryApiError


class ScriptedServer:
    """An HTTP server answering the Nth request with SCRIPT[N] (the last entry repeats)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, bytes, str]] = [(200, b"{}", "application/json")]
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                with server._lock:
                    index = min(len(server.seen), len(server.script) - 1)
                    server.seen.append((self.command, self.path))
                    status, body, kind = server.script[index]
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *_args: object) -> None:  # keep the test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def answer(self, *statuses: int, message: str = "scripted", field: str | None = None) -> None:
        """Answer the next requests with STATUSES in turn, each with a JSON error body (or ``{}`` under 400)."""
        self.script = []
        for status in statuses:
            doc: dict[str, object] = {} if status < 400 else {"error": "x", "message": message}
            if field is not None and status >= 400:
                doc["field"] = field
            self.script.append((status, json.dumps(doc).encode(), "application/json"))


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    thread = threading.Thread(target=scripted.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield scripted
    finally:
        scripted.httpd.shutdown()
        scripted.httpd.server_close()
        thread.join(timeout=10)


class Waits:
    """Records each wait and really waits it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


def client(base: str, waits: Waits, **policy: float) -> RetryingHttpClient:
    return RetryingHttpClient(base, policy=RetryPolicy(**policy), timeout=10, sleep=waits)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 429, 501, 505])
def test_a_status_that_is_not_retried_is_sent_once(server: ScriptedServer, status: int) -> None:
    server.answer(status, message="agent_id is too long", field="agent_id")
    waits = Waits()
    with client(server.base, waits, max_retries=5, backoff=0.001) as http:
        with pytest.raises(ApiClientError) as err:
            http.request("POST", "/things", json={"agent_id": "x"})
    assert (err.value.status, err.value.attempts, err.value.field) == (status, 1, "agent_id")
    assert err.value.message == "agent_id is too long"
    assert str(err.value) == f"POST /things: HTTP {status}: agent_id is too long"
    assert server.seen == [("POST", "/things")] and waits.waits == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_failing_server_is_retried_max_retries_times(server: ScriptedServer, status: int) -> None:
    server.answer(status, message="database unreachable")
    waits = Waits()
    with client(server.base, waits, max_retries=3, backoff=0.002, max_delay=1.0) as http:
        with pytest.raises(ApiClientError) as err:
            http.request("GET", "/healthz")
    assert (err.value.status, err.value.attempts, err.value.message) == (status, 4, "database unreachable")
    assert str(err.value).endswith("after 4 attempts")
    assert len(server.seen) == 4 and len(waits.waits) == 3
    for n, wait in enumerate(waits.waits, start=1):  # doubling, with the jitter factor in [0.5, 1.5)
        assert 0.002 * 2 ** (n - 1) * 0.5 <= wait < 0.002 * 2 ** (n - 1) * 1.5


def test_a_transient_failure_is_retried_until_the_answer(server: ScriptedServer) -> None:
    server.answer(503, 502, 500, 200)
    waits = Waits()
    with client(server.base, waits, max_retries=5, backoff=0.001) as http:
        response = http.request("GET", "/routes")
    assert response.status_code == 200 and len(server.seen) == 4 and len(waits.waits) == 3


def test_each_wait_and_all_waits_are_capped(server: ScriptedServer) -> None:
    # Every uncapped wait would be 5 s or more; capped at 10 ms, four fit in 45 ms and a fifth would not,
    # so the fifth attempt is the last although 100 retries are allowed.
    server.answer(503)
    waits = Waits()
    with client(server.base, waits, max_retries=100, backoff=10.0, max_delay=0.01, max_total_delay=0.045) as http:
        with pytest.raises(ApiClientError) as err:
            http.request("GET", "/x")
    assert (err.value.status, err.value.attempts) == (503, 5)
    assert waits.waits == [0.01] * 4 and len(server.seen) == 5


def test_no_retry_at_all_when_max_retries_is_zero(server: ScriptedServer) -> None:
    server.answer(503)
    waits = Waits()
    with client(server.base, waits, max_retries=0) as http, pytest.raises(ApiClientError) as err:
        http.request("GET", "/x")
    assert (err.value.status, err.value.attempts) == (503, 1) and len(server.seen) == 1 and waits.waits == []


def test_a_refused_connection_is_retried_then_named() -> None:
    waits = Waits()
    with client(f"http://127.0.0.1:{free_port()}", waits, max_retries=2, backoff=0.001) as http:
        with pytest.raises(ApiClientError) as err:
            http.request("GET", "/healthz")
    assert (err.value.status, err.value.attempts, err.value.body) == (None, 3, None)
    assert isinstance(err.value.__cause__, httpx.ConnectError) and len(waits.waits) == 2


def test_an_error_body_that_is_not_json_is_kept_as_text(server: ScriptedServer) -> None:
    server.script = [(502, b"<html>bad gateway</html>", "text/html")]
    with client(server.base, Waits(), max_retries=1, backoff=0.001) as http, pytest.raises(ApiClientError) as err:
        http.request("GET", "/x")
    assert err.value.body == "<html>bad gateway</html>" and err.value.field is None
    assert err.value.message == str(err.value) and "HTTP 502: <html>bad gateway</html>" in err.value.message


@pytest.mark.parametrize("kind", [MemoryApiError, RegistryApiError])
def test_each_client_gets_its_own_error_type(server: ScriptedServer, kind: type[ApiClientError]) -> None:
    server.answer(404, message="model not found")
    with RetryingHttpClient(server.base, error=kind) as http, pytest.raises(kind) as err:
        http.request("GET", "/models/1")
    assert isinstance(err.value, AionError) and err.value.status == 404


def test_the_jitter_can_be_replayed(server: ScriptedServer) -> None:
    server.answer(503)
    runs = []
    for _ in range(2):
        waits = Waits()
        rng = random.Random(7)
        with RetryingHttpClient(server.base, policy=RetryPolicy(max_retries=3, backoff=0.001), sleep=waits,
                                jitter=rng.random) as http, pytest.raises(ApiClientError):
            http.request("GET", "/x")
        runs.append(waits.waits)
    assert runs[0] == runs[1] and len(set(runs[0])) == 3


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected"),
    [(1, 0.0, 0.1), (1, 0.5, 0.2), (2, 0.5, 0.4), (3, 0.5, 0.8), (10, 0.5, 5.0), (2000, 0.99, 5.0)],
)
def test_delay_doubles_and_is_capped(attempt: int, jitter: float, expected: float) -> None:
    assert RetryPolicy(backoff=0.2, max_delay=5.0).delay(attempt, jitter) == pytest.approx(expected)


@pytest.mark.parametrize(
    "bad", [{"max_retries": -1}, {"backoff": -0.1}, {"max_delay": float("inf")}, {"max_total_delay": float("nan")}]
)
def test_a_bad_policy_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        RetryPolicy(**bad)  # type: ignore[arg-type]
