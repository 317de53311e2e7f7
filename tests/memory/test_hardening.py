"""Hardening of the memory API against hostile or broken input, on SQLite and PostgreSQL.

Protects: a batch of millions of tiny items is refused at the batch limit without being parsed
in full, and a body of millions of tiny values in any other shape (one object holding nested
lists) is refused at AION_MAX_JSON_VALUES before the parser sees it (finding 17); a body over
the limit is answered 413 while it is still being received; a one-object route has a lower body
limit than the batch route; a first request that fails leaves no ghost tenant in the store's
cache (finding 8); a value the database refuses is a 422 that does not echo the value (finding
9's safety net); an out-of-range `since` on the export is a 422 before the stream starts
(finding 9).
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier
from aion_assets.core.db import make_engine
from aion_assets.core.http import install_error_handlers
from aion_assets.core.serve import serve_in_thread
from tests.conftest import Database

from .conftest import SECRET

JSON = {"Content-Type": "application/json"}


def interaction(**overrides: Any) -> dict[str, Any]:
    return {"agent_id": "support-bot", "input_text": "Where is my order?", "output_text": "Soon."} | overrides


def test_millions_of_tiny_items_are_refused_at_the_batch_limit(
    database: Database, make_token: Callable[..., str], tenant: str
) -> None:
    # The app's defaults: a 16 MiB body limit and batches of at most 1000 items.
    app = create_app(make_engine(database.url, pool_size=2), TokenVerifier(SECRET))
    body = b"[" + b"{}," * 4_999_999 + b"{}]"  # 5 million items in 15 MB: under the body limit
    assert len(body) < app.state.body_limits.max_body_bytes
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {make_token(tenant, 'writer')}"}
        r = client.post("/interactions", content=body, headers=auth | JSON)
        assert r.status_code == 413, r.text
        # Counted before parsing: none of the items was parsed (the old code parsed all of them
        # and reported "batch has 5000000 items").
        assert r.json() == {"error": "batch_too_large", "message": "batch has more than 1000 items", "field": "body"}
        ok = client.post("/interactions", content=json.dumps([interaction()] * 3), headers=auth | JSON)
        assert ok.status_code == 201 and len(ok.json()) == 3


class _ParseSpy:
    """The app's JSON decoder, counting the documents handed to it (the real one still parses)."""

    def __init__(self, decoder: Any) -> None:
        self.decoder, self.calls = decoder, 0

    def raw_decode(self, text: str, pos: int = 0) -> Any:
        self.calls += 1
        return self.decoder.raw_decode(text, pos)


@pytest.mark.parametrize(
    "metadata",
    [
        '{"items": [' + "{}," * 1_000_000 + "{}]}",  # one object holding a list of a million tiny objects
        '{"deep": [' + "[[],[]]," * 400_000 + "[]]}",  # nested arrays of tiny elements
        '{"n": [' + "0," * 1_500_000 + "0]}",  # a flat list of numbers
    ],
    ids=["objects", "nested-arrays", "numbers"],
)
def test_millions_of_tiny_values_in_one_object_are_refused_before_parsing(
    database: Database, make_token: Callable[..., str], tenant: str, monkeypatch: pytest.MonkeyPatch, metadata: str
) -> None:
    from aion_assets.core import json_limits

    spy = _ParseSpy(json_limits._DECODER)
    monkeypatch.setattr(json_limits, "_DECODER", spy)
    app = create_app(make_engine(database.url, pool_size=2), TokenVerifier(SECRET))  # default limits
    head = '{"agent_id": "support-bot", "input_text": "Where is my order?", "output_text": "Soon.", "metadata": '
    body = (head + metadata + "}").encode()
    assert 2**20 < len(body) < app.state.body_limits.max_body_bytes  # a few MiB: under the body limit
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {make_token(tenant, 'writer')}"}
        r = client.post("/interactions", content=body, headers=auth | JSON)
        assert r.status_code == 413, r.text
        assert r.json()["error"] == "too_many_values" and r.json()["field"] == "body"
        assert "more than 100000 JSON values" in r.json()["message"] and "AION_MAX_JSON_VALUES" in r.json()["message"]
        assert spy.calls == 0  # refused before the parser saw any of it (it used to build ~100 MiB of objects)
        # The same shape within the limit is parsed and stored, through the same (spied) decoder.
        small = head + '{"items": [' + "{}," * 999 + "{}]}}"
        ok = client.post("/interactions", content=small, headers=auth | JSON)
        assert ok.status_code == 201, ok.text
        assert spy.calls == 1 and len(ok.json()["metadata"]["items"]) == 1000


def test_the_value_limit_is_configurable(database: Database, make_token: Callable[..., str], tenant: str) -> None:
    app = create_app(make_engine(database.url, pool_size=2), TokenVerifier(SECRET), max_json_values=1000)
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {make_token(tenant, 'writer')}"}
        # The root object, its 3 texts, the metadata object and its list: 6 values, plus the list's elements.
        fits = interaction(metadata={"l": list(range(994))})
        over = interaction(metadata={"l": list(range(995))})
        assert client.post("/interactions", content=json.dumps(fits), headers=auth | JSON).status_code == 201
        r = client.post("/interactions", content=json.dumps(over), headers=auth | JSON)
        assert r.status_code == 413 and "more than 1000 JSON values" in r.json()["message"], r.text


def test_body_over_the_limit_is_refused_while_it_is_being_received(
    database: Database, make_token: Callable[..., str], tenant: str
) -> None:
    limit = 256 * 1024
    app = create_app(make_engine(database.url, pool_size=2), TokenVerifier(SECRET), max_body_bytes=limit)
    with serve_in_thread(app) as base:
        url = urlsplit(base)
        with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
            head = (
                "POST /interactions HTTP/1.1\r\n"
                f"Host: {url.netloc}\r\n"
                f"Authorization: Bearer {make_token(tenant, 'writer')}\r\n"
                "Content-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
            )
            sock.sendall(head.encode())
            chunk = b" " * 10_000
            for _ in range(limit // len(chunk) + 1):  # just past the limit; no length was declared
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            # The body is not finished (no last chunk): the answer comes anyway.
            answer = b""
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_one_object_routes_have_a_lower_body_limit(
    database: Database, make_token: Callable[..., str], tenant: str
) -> None:
    app = create_app(make_engine(database.url, pool_size=2), TokenVerifier(SECRET))  # 16 MiB, 32,000 chars
    edit = {"interaction_id": str(uuid.uuid4()), "editor_type": "human", "edited_output": "x", "reward_score": 0.5,
            "metadata": {"pad": "p" * 700_000}}  # 700 kB: over two maximal texts plus 256 KiB
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {make_token(tenant, 'writer', 'reviewer')}"}
        r = client.post("/self-edits", content=json.dumps(edit), headers=auth | JSON)
        assert r.status_code == 413 and r.json()["error"] == "body_too_large", r.text
        r = client.post(f"/self-edits/{uuid.uuid4()}/approve", content=json.dumps({"note": "n" * 700_000}),
                        headers=auth | JSON)
        assert r.status_code == 413, r.text
        # The batch route keeps the app's limit: a 680 kB batch is stored.
        batch = [interaction(input_text="q" * 31_000)] * 22
        r = client.post("/interactions", content=json.dumps(batch), headers=auth | JSON)
        assert r.status_code == 201, r.text


def test_a_failed_first_request_leaves_no_ghost_tenant(
    client: TestClient, make_token: Callable[..., str], tenant: str
) -> None:
    other = {"Authorization": f"Bearer {make_token('other-' + uuid.uuid4().hex[:8], 'writer')}"}
    taken = str(uuid.uuid4())
    assert client.post("/interactions", json=interaction(id=taken), headers=other).status_code == 201
    store = client.app.state.memory_store  # type: ignore[attr-defined]
    auth = {"Authorization": f"Bearer {make_token(tenant, 'writer')}"}

    first = client.post("/interactions", json=[interaction(), interaction(id=taken)], headers=auth)
    assert first.status_code == 409, first.text
    assert store.get_tenant(tenant) is None  # rolled back with the batch

    again = client.post("/interactions", json=interaction(), headers=auth)
    assert again.status_code == 201, again.text
    # The old cache remembered the tenant from the rolled-back insert and never wrote it again.
    assert store.get_tenant(tenant) is not None
    assert tenant in [t.tenant_id for t in store.list_tenants()]


def test_a_value_the_database_refuses_is_a_422_without_the_value(pg_database: Database) -> None:
    # The safety net behind validation; SQLite has no such refusal (it stores anything).
    engine = make_engine(pg_database.url, pool_size=2)
    app = FastAPI()
    install_error_handlers(app)
    secret = "call Jane Doe at +1 415 555 0199"

    @app.get("/through-sqlalchemy")
    def through_sqlalchemy() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT CAST(:v AS integer)"), {"v": secret})

    @app.get("/through-the-driver")
    def through_the_driver() -> None:  # the store's fast insert path uses the driver directly
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("SELECT %s::integer", (secret,))

    with TestClient(app) as client:
        for path in ("/through-sqlalchemy", "/through-the-driver"):
            r = client.get(path)
            assert r.status_code == 422, r.text
            assert r.json()["error"] == "validation_error" and secret not in r.text
    engine.dispose()


@pytest.mark.parametrize(
    "since",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z", "2200-01-01T00:00:00Z"],
)
def test_export_since_out_of_range_is_refused_before_streaming(
    client: TestClient, make_token: Callable[..., str], tenant: str, since: str
) -> None:
    auth = {"Authorization": f"Bearer {make_token(tenant, 'reviewer')}"}
    # The old code sent 200 and then failed inside the stream (a truncated body).
    r = client.get("/datasets/sft", params={"since": since}, headers=auth)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "since"
