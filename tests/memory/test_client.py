"""MemoryClient: typed calls against the real app, retries on 5xx and connection errors that
reuse the same ids (so a retry never duplicates), and no retry on 4xx."""

from __future__ import annotations

import json

import httpx
import pytest

from aion_assets.memory.client import MemoryApiError, MemoryClient
from aion_assets.memory.models import EditStatus


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
