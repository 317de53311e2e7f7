"""The memory API through HTTP on SQLite and PostgreSQL: every endpoint, validation, idempotency,
all-or-nothing batches, auth and tenant scoping.

Protects: bad input (every case of finding 9 in design/security-findings.md: deep nesting, huge
integers, NaN/Infinity, timestamps out of range in bodies and cursors, NUL and lone surrogates
in any string or metadata key/value, over-long ids) is a 4xx naming the field, never a 500,
and the same answer on both backends.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient


def interaction(**overrides: Any) -> dict[str, Any]:
    base = {"agent_id": "support-bot", "input_text": "Where is my order?", "output_text": "It ships soon."}
    return base | overrides


def count_interactions(client: TestClient, auth: dict[str, str], ids: list[str]) -> int:
    return sum(client.get(f"/interactions/{i}", headers=auth).status_code == 200 for i in ids)


def test_single_interaction_round_trip(client: TestClient, auth: dict[str, str], tenant: str) -> None:
    r = client.post("/interactions", json=interaction(channel="web", metadata={"domain": "support"}), headers=auth)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["tenant_id"] == tenant and body["channel"] == "web" and body["metadata"] == {"domain": "support"}
    got = client.get(f"/interactions/{body['id']}", headers=auth)
    assert got.status_code == 200 and got.json() == body


def test_batch_returns_rows_in_order_with_ids(client: TestClient, auth: dict[str, str]) -> None:
    items = [interaction(input_text=f"question {i}") for i in range(20)]
    r = client.post("/interactions", json=items, headers=auth)
    assert r.status_code == 201, r.text
    rows = r.json()
    assert [row["input_text"] for row in rows] == [f"question {i}" for i in range(20)]
    assert len({row["id"] for row in rows}) == 20


def test_same_id_is_a_safe_retry(client: TestClient, auth: dict[str, str]) -> None:
    item = interaction(id=str(uuid.uuid4()))
    first = client.post("/interactions", json=item, headers=auth)
    again = client.post("/interactions", json=item | {"output_text": "changed on retry"}, headers=auth)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # the stored row, not the retried body
    batch = client.post("/interactions", json=[item, interaction()], headers=auth)
    assert batch.status_code == 201 and batch.json()[0] == first.json()
    assert client.app.state.metrics.ingested.labels("interaction")._value.get() == 2  # type: ignore[attr-defined]


def test_batch_is_all_or_nothing(client: TestClient, auth: dict[str, str]) -> None:
    ids = [str(uuid.uuid4()) for _ in range(5)]
    items = [interaction(id=i) for i in ids]
    items[3]["reward"] = 1  # unknown field
    r = client.post("/interactions", json=items, headers=auth)
    assert r.status_code == 422
    assert r.json()["index"] == 3 and r.json()["field"] == "reward"
    assert count_interactions(client, auth, ids) == 0


def test_batch_rolls_back_when_an_id_belongs_to_another_tenant(
    client: TestClient, auth: dict[str, str], make_token: Any
) -> None:
    other = {"Authorization": f"Bearer {make_token('other-' + uuid.uuid4().hex[:6], 'writer')}"}
    taken = str(uuid.uuid4())
    assert client.post("/interactions", json=interaction(id=taken), headers=other).status_code == 201
    fresh = [str(uuid.uuid4()) for _ in range(3)]
    r = client.post("/interactions", json=[interaction(id=fresh[0]), interaction(id=taken), interaction(id=fresh[1])],
                    headers=auth)
    assert r.status_code == 409 and "[1].id" in r.json()["message"]
    assert count_interactions(client, auth, fresh) == 0


def test_repeated_id_inside_a_batch_is_refused(client: TestClient, auth: dict[str, str]) -> None:
    same = str(uuid.uuid4())
    r = client.post("/interactions", json=[interaction(id=same), interaction(id=same)], headers=auth)
    assert r.status_code == 409 and "[1].id" in r.json()["message"]


BAD_INTERACTIONS = [
    ({"input_text": "x", "output_text": "y"}, 422, "agent_id"),
    (interaction(agent_id=""), 422, "agent_id"),
    (interaction(agent_id="has space"), 422, "agent_id"),
    (interaction(input_text=7), 422, "input_text"),
    (interaction(output_text=None), 422, "output_text"),
    (interaction(input_text="a" * 2001), 422, "input_text"),
    (interaction(input_text="nul\u0000byte"), 422, "input_text"),
    (interaction(timestamp="yesterday"), 422, "timestamp"),
    (interaction(id="not-a-uuid"), 422, "id"),
    (interaction(metadata=[1, 2]), 422, "metadata"),
    (interaction(unknown_field=1), 422, "unknown_field"),
    ("just a string", 422, "body"),
    ([], 422, "body"),
    # Timestamps: out of the accepted range [1970, 2200), or overflowing on conversion to UTC.
    (interaction(timestamp="0001-01-01T00:00:00+01:00"), 422, "timestamp"),
    (interaction(timestamp="9999-12-31T23:59:59-01:00"), 422, "timestamp"),
    (interaction(timestamp="1969-12-31T23:59:59Z"), 422, "timestamp"),
    (interaction(timestamp="2200-01-01T00:00:00Z"), 422, "timestamp"),
    # NUL and lone surrogates in every string, metadata keys and values at any depth.
    (interaction(user_id="u\u0000"), 422, "user_id"),
    (interaction(user_id="u\ud800"), 422, "user_id"),
    (interaction(agent_id="a\u0000"), 422, "agent_id"),
    (interaction(model_version="m\u0000"), 422, "model_version"),
    (interaction(channel="\udfff"), 422, "channel"),
    (interaction(output_text="\ud83d"), 422, "output_text"),
    (interaction(metadata={"k": "v\u0000"}), 422, "metadata"),
    (interaction(metadata={"k\u0000": "v"}), 422, "metadata"),
    (interaction(metadata={"a": [{"b": "\ud800"}]}), 422, "metadata"),
    (interaction(metadata={"a": {"b": {"c": ["ok", {"\udc00": 1}]}}}), 422, "metadata"),
    # Over-long ids (the database's column widths).
    (interaction(agent_id="a" * 129), 422, "agent_id"),
    (interaction(user_id="u" * 129), 422, "user_id"),
    (interaction(tenant_id="t" * 129), 422, "tenant_id"),
    (interaction(model_version="m" * 257), 422, "model_version"),
]


@pytest.mark.parametrize(("body", "status", "field"), BAD_INTERACTIONS)
def test_bad_interaction_input(client: TestClient, auth: dict[str, str], body: Any, status: int, field: str) -> None:
    # json.dumps escapes NUL and lone surrogates (\u0000, \ud800) the way any JSON encoder does.
    r = client.post("/interactions", content=json.dumps(body), headers=auth | {"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["field"] == field
    assert r.json()["error"]


def test_bad_item_in_a_batch_is_named_by_index(client: TestClient, auth: dict[str, str]) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    items = [interaction(id=i) for i in ids]
    items[2]["metadata"] = {"note": ["fine", "nul\u0000"]}
    r = client.post("/interactions", content=json.dumps(items), headers=auth | {"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert (r.json()["field"], r.json()["index"]) == ("metadata", 2)
    assert "metadata['note'][1]" in r.json()["message"]
    assert count_interactions(client, auth, ids) == 0


def _with_metadata(raw: str) -> bytes:
    return ('{"agent_id":"a","input_text":"q","output_text":"o","metadata":' + raw + "}").encode()


def test_nesting_up_to_the_limit_is_stored(client: TestClient, auth: dict[str, str]) -> None:
    # The body object is level 1, metadata level 2: 62 more levels reach the limit of 64 exactly.
    raw = _with_metadata('{"a":' * 63 + "1" + "}" * 63)
    r = client.post("/interactions", content=raw, headers=auth | {"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert client.get(f"/interactions/{r.json()['id']}", headers=auth).json()["metadata"] == json.loads(raw)["metadata"]


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b'{"agent_id": "a", "input_text": "caf\xe9", "output_text": "x"}', 400, "invalid_body"),
        (b'{"agent_id": "a",', 400, "invalid_json"),
        (b"", 400, "invalid_body"),
        (b'{"agent_id":"a","input_text":"\\ud800","output_text":"x"}', 422, "validation_error"),
        # Finding 9: each of these was a 500 (RecursionError, int conversion limit, NaN on PostgreSQL).
        (b"[" * 200_000, 400, "invalid_json"),
        (b'{"a":' * 40_000, 400, "invalid_json"),
        (_with_metadata('{"a":' * 64 + "1" + "}" * 64), 400, "invalid_json"),
        (b"[" + _with_metadata("[" * 70 + "]" * 70) + b"]", 400, "invalid_json"),
        (_with_metadata('{"n":' + "7" * 5000 + "}"), 400, "invalid_json"),
        (b"[" + _with_metadata('{"n":' + "7" * 5000 + "}") + b"]", 400, "invalid_json"),
        (_with_metadata('{"x":NaN}'), 400, "invalid_json"),
        (_with_metadata('{"x":Infinity}'), 400, "invalid_json"),
        (_with_metadata('[-Infinity]'), 400, "invalid_json"),
        (b'[{"agent_id":"a","input_text":"q","output_text":"o"}, NaN]', 400, "invalid_json"),
        (b'[{"agent_id":"a","input_text":"q","output_text":"o"},]', 400, "invalid_json"),
        (b'[{"agent_id":"a","input_text":"q","output_text":"o"}] x', 400, "invalid_json"),
        # 1e400 is valid JSON that Python reads as infinity: not storable, refused by the model.
        (_with_metadata('{"x":1e400}'), 422, "validation_error"),
    ],
)
def test_undecodable_bodies(client: TestClient, auth: dict[str, str], raw: bytes, status: int, code: str) -> None:
    r = client.post("/interactions", content=raw, headers=auth | {"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["error"] == code
    if status == 400:
        assert r.json()["field"] == "body"


def test_body_and_batch_limits(client: TestClient, auth: dict[str, str]) -> None:
    huge = client.post("/interactions", content=b"[" + b" " * 300_000 + b"]",
                       headers=auth | {"Content-Type": "application/json"})
    assert huge.status_code == 413 and huge.json()["field"] == "body"

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(40):
            yield b" " * 10_000

    streamed = client.post("/interactions", content=chunks(), headers=auth | {"Content-Type": "application/json"})
    assert streamed.status_code == 413
    too_many = client.post("/interactions", json=[interaction() for _ in range(51)], headers=auth)
    assert too_many.status_code == 413 and too_many.json()["error"] == "batch_too_large"


def test_body_naming_another_tenant_is_refused(client: TestClient, auth: dict[str, str], tenant: str) -> None:
    assert client.post("/interactions", json=interaction(tenant_id=tenant), headers=auth).status_code == 201
    r = client.post("/interactions", json=[interaction(), interaction(tenant_id="someone-else")], headers=auth)
    assert r.status_code == 403 and r.json()["field"] == "tenant_id" and r.json()["index"] == 1


def test_other_tenants_interaction_is_404(client: TestClient, auth: dict[str, str], make_token: Any) -> None:
    mine = client.post("/interactions", json=interaction(), headers=auth).json()
    intruder = {"Authorization": f"Bearer {make_token('intruder-' + uuid.uuid4().hex[:6], 'writer', 'admin')}"}
    assert client.get(f"/interactions/{mine['id']}", headers=intruder).status_code == 404
    assert client.get(f"/interactions/{uuid.uuid4()}", headers=auth).status_code == 404
    edit = {"interaction_id": mine["id"], "editor_type": "human", "edited_output": "x", "reward_score": 1}
    r = client.post("/self-edits", json=edit, headers=intruder)
    assert r.status_code == 404


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic abc", "Bearer not.a.jwt", "Bearer " + "e30.e30.sig"],
)
def test_missing_or_malformed_token_is_401(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = client.post("/interactions", json=interaction(), headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_expired_and_forged_tokens_are_401(client: TestClient, tenant: str) -> None:
    from aion_assets.core.auth import mint_token

    from .conftest import SECRET

    forged = mint_token("another-secret-" + "y" * 20, tenant_id=tenant, roles=["admin"])
    expired = mint_token(SECRET, tenant_id=tenant, roles=["writer"], ttl_seconds=1)
    import jwt

    claims = jwt.decode(expired, SECRET, algorithms=["HS256"])
    claims["exp"] -= 3600
    expired = jwt.encode(claims, SECRET, algorithm="HS256")
    for token in (forged, expired):
        r = client.post("/interactions", json=interaction(), headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, r.text


@pytest.mark.parametrize(
    ("tenant_id", "subject"),
    [("t" * 129, None), ("bad\u0000tenant", None), ("..", None), (None, "s" * 257), (None, "dev\u0000")],
)
def test_bad_token_claims_are_401_not_500(
    client: TestClient, make_token: Any, tenant: str, tenant_id: str | None, subject: str | None
) -> None:
    # Finding 9's last row: an over-long tenant or subject reached a varchar column (500 on PostgreSQL).
    headers = {"Authorization": f"Bearer {make_token(tenant_id or tenant, 'writer', 'reviewer', subject=subject)}"}
    r = client.post("/interactions", json=interaction(), headers=headers)
    assert r.status_code == 401, r.text


def test_wrong_role_is_403(client: TestClient, make_token: Any, tenant: str) -> None:
    reviewer = {"Authorization": f"Bearer {make_token(tenant, 'reviewer')}"}
    writer = {"Authorization": f"Bearer {make_token(tenant, 'writer')}"}
    assert client.post("/interactions", json=interaction(), headers=reviewer).status_code == 403
    inter = client.post("/interactions", json=interaction(), headers=writer).json()
    edit = client.post("/self-edits", json={"interaction_id": inter["id"], "editor_type": "rule",
                                            "edited_output": "fixed", "reward_score": 0.5}, headers=writer).json()
    assert client.post(f"/self-edits/{edit['id']}/approve", headers=writer).status_code == 403
    assert client.post(f"/self-edits/{edit['id']}/approve", headers=reviewer).status_code == 200


def test_self_edit_lifecycle(client: TestClient, auth: dict[str, str], tenant: str) -> None:
    inter = client.post("/interactions", json=interaction(), headers=auth).json()
    edit_id = str(uuid.uuid4())
    body = {"id": edit_id, "interaction_id": inter["id"], "editor_type": "human",
            "edited_output": "It ships on Monday.", "reward_score": 0.9, "reason_code": "wrong_fact"}
    r = client.post("/self-edits", json=body, headers=auth)
    assert r.status_code == 201, r.text
    edit = r.json()
    assert edit["status"] == "pending" and edit["original_output"] == "It ships soon."
    assert edit["tenant_id"] == tenant and edit["agent_id"] == "support-bot"
    assert client.post("/self-edits", json=body, headers=auth).json() == edit  # retry
    approved = client.post(f"/self-edits/{edit_id}/approve", json={"note": "checked"}, headers=auth)
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved" and approved.json()["reviewer"].startswith("dev@")
    assert approved.json()["reviewed_at"] is not None
    assert client.post(f"/self-edits/{edit_id}/approve", headers=auth).status_code == 200  # idempotent
    assert client.post(f"/self-edits/{edit_id}/reject", headers=auth).status_code == 409
    assert client.post(f"/self-edits/{uuid.uuid4()}/approve", headers=auth).status_code == 404


def test_amend_while_approving(client: TestClient, auth: dict[str, str]) -> None:
    inter = client.post("/interactions", json=interaction(), headers=auth).json()
    edit = client.post("/self-edits", json={"interaction_id": inter["id"], "editor_type": "model",
                                            "edited_output": "draft", "reward_score": 0.4}, headers=auth).json()
    bad = client.post(f"/self-edits/{edit['id']}/approve", json={"edited": "final"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["field"] == "edited"
    assert client.get("/self-edits?status=pending", headers=auth).json()["items"][0]["id"] == edit["id"]
    r = client.post(f"/self-edits/{edit['id']}/approve", json={"edited_output": "final"}, headers=auth)
    assert r.json()["edited_output"] == "final"
    assert client.get("/self-edits?status=approved", headers=auth).json()["items"][0]["edited_output"] == "final"


BAD_EDITS = [
    ({"editor_type": "robot"}, "editor_type"),
    ({"reward_score": 1.5}, "reward_score"),
    ({"reward_score": -0.1}, "reward_score"),
    ({"reward_score": "high"}, "reward_score"),
    ({"edited_output": None}, "edited_output"),
    ({"interaction_id": "nope"}, "interaction_id"),
    ({"color": "red"}, "color"),
    ({"reason_code": "r\u0000"}, "reason_code"),
    ({"reason_code": "\ud800"}, "reason_code"),
    ({"reason_code": "r" * 129}, "reason_code"),
    ({"edited_output": "e\u0000"}, "edited_output"),
    ({"original_output": "\udbff"}, "original_output"),
    ({"metadata": {"src": {"k": "v\u0000"}}}, "metadata"),
    ({"metadata": {"\ud800": 1}}, "metadata"),
    ({"timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp"),
    ({"timestamp": "1900-01-01T00:00:00Z"}, "timestamp"),
    ({"id": "0" * 37}, "id"),
]


@pytest.mark.parametrize(("change", "field"), BAD_EDITS)
def test_bad_self_edit_input(client: TestClient, auth: dict[str, str], change: dict[str, Any], field: str) -> None:
    inter = client.post("/interactions", json=interaction(), headers=auth).json()
    body = {"interaction_id": inter["id"], "editor_type": "human", "edited_output": "ok", "reward_score": 0.5}
    r = client.post("/self-edits", content=json.dumps(body | change),
                    headers=auth | {"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert client.get("/self-edits", headers=auth).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"note": "checked\u0000"}, "note"),
        ({"note": "\ud800"}, "note"),
        ({"note": "n" * 2001}, "note"),
        ({"edited_output": "final\u0000"}, "edited_output"),
    ],
)
def test_bad_review_input(client: TestClient, auth: dict[str, str], body: dict[str, Any], field: str) -> None:
    inter = client.post("/interactions", json=interaction(), headers=auth).json()
    edit = client.post("/self-edits", json={"interaction_id": inter["id"], "editor_type": "human",
                                            "edited_output": "e", "reward_score": 0.5}, headers=auth).json()
    r = client.post(f"/self-edits/{edit['id']}/approve", content=json.dumps(body),
                    headers=auth | {"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert client.get("/self-edits?status=pending", headers=auth).json()["items"][0]["id"] == edit["id"]


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": _cursor("0001-01-01T00:00:00+01:00", str(uuid.uuid4()))}, "cursor"),
        ({"cursor": _cursor("9999-12-31T23:59:59-01:00", str(uuid.uuid4()))}, "cursor"),
        ({"cursor": _cursor("1960-01-01T00:00:00+00:00", str(uuid.uuid4()))}, "cursor"),
        ({"cursor": _cursor("2026-01-01T00:00:00+00:00", "not-a-uuid")}, "cursor"),
        ({"cursor": _cursor(["nested"], 1)}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"\xff\xfe").decode()}, "cursor"),
        ({"agent_id": "bot\u0000"}, "agent_id"),
        ({"agent_id": "a" * 129}, "agent_id"),
        ({"reason_code": "r\u0000"}, "reason_code"),
        ({"limit": "9" * 5000}, "limit"),
    ],
)
def test_bad_listing_parameters(client: TestClient, auth: dict[str, str], params: dict[str, str], field: str) -> None:
    r = client.get("/self-edits", params=params, headers=auth)
    assert r.status_code == 422 and r.json()["field"] == field, r.text


def test_self_edit_of_unknown_interaction_is_404(client: TestClient, auth: dict[str, str]) -> None:
    body = {"interaction_id": str(uuid.uuid4()), "editor_type": "human", "edited_output": "x", "reward_score": 0.5}
    r = client.post("/self-edits", json=body, headers=auth)
    assert r.status_code == 404 and "interaction_id" in r.json()["message"]


def test_listing_paginates_and_filters(client: TestClient, auth: dict[str, str]) -> None:
    inters = client.post("/interactions", json=[interaction(agent_id=f"agent-{i % 2}") for i in range(7)],
                         headers=auth).json()
    for inter in inters:
        client.post("/self-edits", json={"interaction_id": inter["id"], "editor_type": "human",
                                         "edited_output": "e", "reward_score": 0.7}, headers=auth)
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/self-edits", params=params, headers=auth).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    only = client.get("/self-edits", params={"agent_id": "agent-1", "status": "pending"}, headers=auth).json()
    assert len(only["items"]) == 3 and {e["agent_id"] for e in only["items"]} == {"agent-1"}
    assert client.get("/self-edits", params={"status": "approved"}, headers=auth).json()["items"] == []
    for params, field in [({"limit": 0}, "limit"), ({"status": "maybe"}, "status"), ({"cursor": "zzz"}, "cursor")]:
        r = client.get("/self-edits", params=params, headers=auth)
        assert r.status_code == 422 and r.json()["field"] == field


def test_health_metrics_and_openapi(client: TestClient, auth: dict[str, str]) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    client.post("/interactions", json=[interaction(), interaction()], headers=auth)
    text = client.get("/metrics").text
    assert 'aion_ingested_rows_total{kind="interaction"} 2.0' in text
    assert 'aion_http_request_duration_seconds_count{method="POST",route="/interactions",status="2xx"}' in text
    spec = client.get("/openapi.json").json()
    assert {"/interactions", "/self-edits", "/self-edits/{edit_id}/approve", "/healthz"} <= set(spec["paths"])
    assert "InteractionIn" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200
