"""MemoryClient: typed calls against the real app, retries on 5xx and connection errors that
reuse the same ids (so a retry never duplicates), and no retry on 4xx.

Protects: against the real app served on a loopback port (both backends), a 4xx is sent once;
a 503 (database unreachable) and a refused connection are retried, at most MAX_RETRIES times
and never past MAX_TOTAL_DELAY of waiting, each wait capped by MAX_DELAY; the server's own
request counter confirms how many attempts reached it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier
from aion_assets.core.db import make_engine
from aion_assets.core.serve import free_port, serve_in_thread
from aion_assets.memory.client import MemoryApiError, MemoryClient
from aion_assets.memory.models import EditStatus
from tests.conftest import Database

from .conftest import SECRET


def test_client_against_the_app(client, make_token, tenant) -> None:  # type: ignore[no-untyped-def]
    token = make_token(tenant, "writer", "reviewer")
    with MemoryClient("http://testserver", token, transport=_asgi(client)) as mc:
        rows = mc.add_interactions([{"agent_id": "bot", "input_text": f"q{i}", "output_text": "o"} for i in range(3)])
        assert mc.get_interaction(rows[0].id) == rows[0]
        edit = mc.add_self_edit({"interaction_id": str(rows[0].id), "editor_type": "human",
                                 "edited_output": "better", "reward_score": 0.8})
        assert mc.review(edit.id, EditStatus.approved, note="ok").status is EditStatus.approved
        assert [e.id for e in mc.iter_self_edits(status="approved", limit=1)] == [edit.id]
        with pytest.raises(MemoryApiError) as err:
            mc.add_interaction({"agent_id": "bot", "input_text": "q"})
        assert err.value.status == 422 and err.value.field == "output_text"


def _asgi(test_client):  # type: ignore[no-untyped-def]
    """A transport that forwards to the TestClient (real app, real database)."""

    def handler(request: httpx.Request) -> httpx.Response:
        r = test_client.request(request.method, request.url.raw_path.decode(), content=request.content,
                                headers=dict(request.headers))
        return httpx.Response(r.status_code, content=r.content, headers=r.headers)

    return httpx.MockTransport(handler)


def test_retries_keep_the_same_ids() -> None:
    seen: list[list[str]] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append([item["id"] for item in body])
        if len(seen) == 1:
            raise httpx.ConnectError("connection refused")
        if len(seen) == 2:
            return httpx.Response(503, json={"error": "unavailable", "message": "db down"})
        return httpx.Response(201, json=[item | {"tenant_id": "t", "user_id": None, "model_version": None,
                                                 "channel": None, "timestamp": "2026-01-01T00:00:00Z",
                                                 "metadata": {}} for item in body])

    with MemoryClient("http://x", "tok", backoff=0.001, transport=httpx.MockTransport(flaky)) as mc:
        rows = mc.add_interactions([{"agent_id": "a", "input_text": "q", "output_text": "o"}] * 2)
    assert len(seen) == 3 and seen[0] == seen[1] == seen[2] and len(set(seen[0])) == 2
    assert [str(r.id) for r in rows] == seen[0]


def test_client_errors_are_not_retried_and_retries_are_bounded() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        status = 422 if request.url.path == "/interactions" else 500
        return httpx.Response(status, json={"error": "x", "message": "bad", "field": "agent_id"})

    with MemoryClient("http://x", "tok", max_retries=3, backoff=0.001, transport=httpx.MockTransport(handler)) as mc:
        with pytest.raises(MemoryApiError) as err:
            mc.add_interaction({"agent_id": "a", "input_text": "q", "output_text": "o"})
        assert calls["n"] == 1 and err.value.field == "agent_id"
        with pytest.raises(MemoryApiError) as err:
            mc.healthz()
        assert calls["n"] == 1 + 4 and err.value.status == 500


def _served_requests(base: str, status_class: str) -> float:
    """How many POST /interactions the served app answered with STATUS_CLASS (its own metrics)."""
    text = httpx.get(f"{base}/metrics").text
    pattern = (
        r'aion_http_request_duration_seconds_count\{method="POST",route="/interactions",'
        rf'status="{status_class}"\}} ([0-9.e+]+)'
    )
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def served(database: Database) -> Iterator[str]:
    """The real app over the parametrized database, on a loopback port."""
    with serve_in_thread(create_app(make_engine(database.url, pool_size=2), TokenVerifier(SECRET))) as base:
        yield base


@pytest.fixture
def served_without_database(database: Database, tmp_path: Path) -> Iterator[str]:
    """The real app over a database of the same kind that cannot be opened: every store call is a 503."""
    if database.backend == "sqlite":
        (tmp_path / "a-directory").mkdir()
        url = f"sqlite:///{tmp_path / 'a-directory'}"
    else:
        url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"  # nothing listens there
    app = create_app(make_engine(url, pool_size=1), TokenVerifier(SECRET), check_schema=False)
    with serve_in_thread(app) as base:
        yield base


def test_a_client_error_is_sent_once(served: str, make_token: Callable[..., str], tenant: str) -> None:
    with MemoryClient(served, make_token(tenant, "writer"), max_retries=5, backoff=0.01) as mc:
        with pytest.raises(MemoryApiError) as err:
            mc.add_interaction({"agent_id": "bot", "input_text": "q", "output_text": "o", "metadata": {"k": "\x00"}})
        assert (err.value.status, err.value.field, err.value.attempts) == (422, "metadata", 1)
        assert mc.add_interaction({"agent_id": "bot", "input_text": "q", "output_text": "o"}).tenant_id == tenant
    assert _served_requests(served, "4xx") == 1.0 and _served_requests(served, "2xx") == 1.0


def test_unavailable_database_is_retried_a_bounded_number_of_times(
    served_without_database: str, make_token: Callable[..., str], tenant: str
) -> None:
    item = {"agent_id": "bot", "input_text": "q", "output_text": "o"}
    with MemoryClient(served_without_database, make_token(tenant, "writer"), max_retries=3, backoff=0.01) as mc:
        with pytest.raises(MemoryApiError) as err:
            mc.add_interaction(item)
    assert (err.value.status, err.value.attempts) == (503, 4)
    assert "after 4 attempts" in str(err.value)
    assert _served_requests(served_without_database, "5xx") == 4.0


def test_retries_stop_at_the_total_delay_cap(
    served_without_database: str, make_token: Callable[..., str], tenant: str
) -> None:
    # Each wait is capped at 10 ms (the backoff alone would ask for 5 s or more); four waits fit in
    # 45 ms and a fifth would not, so the fifth attempt is the last one, although 100 retries are allowed.
    with MemoryClient(served_without_database, make_token(tenant, "writer"), max_retries=100, backoff=10.0,
                      max_delay=0.01, max_total_delay=0.045) as mc:
        with pytest.raises(MemoryApiError) as err:
            mc.add_interaction({"agent_id": "bot", "input_text": "q", "output_text": "o"})
    assert (err.value.status, err.value.attempts) == (503, 5)
    assert _served_requests(served_without_database, "5xx") == 5.0


def test_refused_connections_are_retried_a_bounded_number_of_times(make_token: Callable[..., str]) -> None:
    with MemoryClient(f"http://127.0.0.1:{free_port()}", make_token("acme", "writer"), max_retries=2,
                      backoff=0.01) as mc:
        with pytest.raises(MemoryApiError) as err:
            mc.healthz()
    assert (err.value.status, err.value.attempts) == (None, 3)
    assert isinstance(err.value.__cause__, httpx.ConnectError)
