"""Protects: the console's plain logic against the real API on a loopback port (SQLite and PostgreSQL).

- the queue reads only pending edits of the token's tenant, oldest first, 50 a page with a cursor,
  filtered by agent, editor type, reason code and reward (new API filters, 422 naming a bad one);
- a decision is applied once: a second reviewer repeating it is told who decided first, the
  opposite decision is refused (409) and reported with the stored state, nothing overwritten;
- a rejection needs a reason; an unreachable API is a message, not an exception;
- the diff marks removed and added words and escapes every character of markup;
- passwords are scrypt-hashed and checked in constant time; the users file is validated with the
  entry named; tokens are minted only for granted tenants and re-minted before they expire.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from aion_assets.core.auth import Role, mint_token
from aion_assets.core.errors import ConfigError
from aion_assets.core.serve import free_port
from aion_assets.memory.client import MemoryApiError
from aion_assets.memory.models import EditStatus
from review_app.auth import (
    REMINT_MARGIN_SECONDS,
    SignInError,
    SignInThrottle,
    UserDirectory,
    hash_password,
    reviewer_from_token,
    reviewer_from_user,
    save_user,
    token_for,
    verify_password,
)
from review_app.services import QueueFilters, decide, decide_many, diff_html, fetch_page, make_client

from .conftest import PASSWORD, SECRET, Seeder, token


def test_queue_pages_filters_and_stays_in_its_tenant(api: str, seed: Seeder, tenants: tuple[str, str]) -> None:
    a, b = tenants
    mine = seed.edits(a, 53)
    seed.edits(a, 2, agent_id="billing-bot", editor_type="model", reason_code="tone", reward_score=0.3,
               timestamp="2026-01-03T00:00:00+00:00")
    seed.edits(b, 4, agent_id="billing-bot")
    client = make_client(api, token(a, "reviewer"))
    first = fetch_page(client, QueueFilters())
    assert len(first.items) == 50 and first.next_cursor
    second = fetch_page(client, QueueFilters(), first.next_cursor)
    assert [e.id for e in first.items + second.items][:53] == [e.id for e in mine]
    assert {e.tenant_id for e in first.items + second.items} == {a}
    by_agent = fetch_page(client, QueueFilters(agent_id="billing-bot"))
    assert len(by_agent.items) == 2 and {e.tenant_id for e in by_agent.items} == {a}
    assert len(fetch_page(client, QueueFilters(editor_type="model")).items) == 2
    assert len(fetch_page(client, QueueFilters(reason_code="tone")).items) == 2
    assert len(fetch_page(client, QueueFilters(max_reward=0.5)).items) == 2
    assert len(fetch_page(client, QueueFilters(min_reward=0.5, reason_code="tone")).items) == 0
    theirs = fetch_page(make_client(api, token(b, "reader")), QueueFilters()).items[0]
    with pytest.raises(MemoryApiError) as err:
        client.get_self_edit(theirs.id)
    assert err.value.status == 404
    assert client.get_self_edit(mine[0].id) == mine[0]
    decide(client, mine[0].id, EditStatus.approved, "dev@x")
    assert mine[0].id not in {e.id for e in fetch_page(client, QueueFilters()).items}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"min_reward": "2"}, "min_reward"), ({"max_reward": "nan"}, "max_reward"),
     ({"min_reward": "0.9", "max_reward": "0.1"}, "min_reward"), ({"editor_type": "robot"}, "editor_type"),
     ({"reason_code": "x" * 129}, "reason_code")],
)
def test_bad_filters_are_422_naming_the_field(api: str, tenants: tuple[str, str], params: dict[str, str],
                                              field: str) -> None:
    auth = {"Authorization": f"Bearer {token(tenants[0], 'reader')}"}
    reply = httpx.get(f"{api}/self-edits", params=params, headers=auth)
    assert reply.status_code == 422 and field in reply.text


def test_decisions_are_never_overwritten(api: str, seed: Seeder, tenants: tuple[str, str]) -> None:
    a, _ = tenants
    e1, e2, e3 = seed.edits(a, 3)
    alice = make_client(api, token(a, "reviewer", subject="alice"))
    bob = make_client(api, token(a, "reviewer", subject="bob"))
    done = decide(alice, e1.id, EditStatus.approved, "alice")
    assert done.kind == "done" and done.edit is not None and done.edit.reviewer == "alice"
    again = decide(bob, e1.id, EditStatus.approved, "bob")
    assert again.kind == "already" and "alice" in again.message
    opposite = decide(bob, e1.id, EditStatus.rejected, "bob", note="wrong")
    assert opposite.kind == "conflict" and "approved by alice" in opposite.message
    stored = seed.read(a, e1.id)
    assert stored.status is EditStatus.approved and stored.reviewer == "alice"
    # An amendment sent after someone else's approval is not applied, and the reviewer is told.
    lost = decide(bob, e1.id, EditStatus.approved, "bob", edited_output="bob's text")
    assert lost.kind == "already" and "not applied" in lost.message
    assert seed.read(a, e1.id).edited_output == e1.edited_output
    assert decide(alice, e2.id, EditStatus.rejected, "alice", note="  ").kind == "failed"
    assert seed.read(a, e2.id).status is EditStatus.pending
    amended = decide(alice, e2.id, EditStatus.approved, "alice", edited_output="Amended <b>text</b>.")
    assert amended.kind == "done" and seed.read(a, e2.id).edited_output == "Amended <b>text</b>."
    rejected = decide(alice, e3.id, EditStatus.rejected, "alice", note="invents a warranty")
    assert rejected.kind == "done"
    assert seed.read(a, e3.id).metadata["review_note"] == "invents a warranty"


def test_reader_cannot_decide_and_another_tenant_is_invisible(api: str, seed: Seeder,
                                                              tenants: tuple[str, str]) -> None:
    a, b = tenants
    (theirs,) = seed.edits(b, 1)
    (mine,) = seed.edits(a, 1)
    reader = decide(make_client(api, token(a, "reader")), mine.id, EditStatus.approved, "r")
    assert reader.kind == "failed" and "reviewer role" in reader.message
    foreign = decide(make_client(api, token(a, "reviewer")), theirs.id, EditStatus.approved, "x")
    assert foreign.kind == "failed" and "does not exist" in foreign.message
    assert seed.read(b, theirs.id).status is EditStatus.pending


def test_bulk_counts_each_outcome(api: str, seed: Seeder, tenants: tuple[str, str]) -> None:
    a, _ = tenants
    edits = seed.edits(a, 4)
    alice = make_client(api, token(a, "reviewer", subject="alice"))
    decide(make_client(api, token(a, "reviewer", subject="bob")), edits[0].id, EditStatus.rejected, "bob", note="no")
    result = decide_many(alice, [e.id for e in edits], EditStatus.approved, "alice")
    assert (result.count("done"), result.count("conflict")) == (3, 1)
    assert "3 approved" in result.summary(EditStatus.approved)
    assert decide_many(alice, [edits[1].id], EditStatus.rejected, "alice").count("failed") == 1
    assert [seed.read(a, e.id).status for e in edits] == [EditStatus.rejected] + [EditStatus.approved] * 3


def test_unreachable_api_is_a_message() -> None:
    client = make_client(f"http://127.0.0.1:{free_port()}", token("t", "reviewer"))
    outcome = decide(client, "00000000-0000-0000-0000-000000000001", EditStatus.approved, "x")
    assert outcome.kind == "failed" and "unreachable" in outcome.message
    result = decide_many(client, ["00000000-0000-0000-0000-000000000001"] * 3, EditStatus.approved, "x")
    assert len(result.outcomes) == 1  # stops at the first unreachable call


@pytest.mark.parametrize(
    ("original", "edited", "left", "right"),
    [
        ("Reset in 5 s.", "Reset in 10 s.", 'in <span class="del">5 </span>s.', 'in <span class="ins">10 </span>s.'),
        ("Old answer here.", "Hold the power button here.", '<span class="del">Old answer </span>here.',
         '<span class="ins">Hold the power button </span>here.'),
        ("same", "same", "same", "same"),
        ("", "new <script>alert(1)</script>", "",
         '<span class="ins">new &lt;script&gt;alert(1)&lt;/script&gt;</span>'),
        ("a & b", "a &amp; b", 'a <span class="del">&amp; </span>b', 'a <span class="ins">&amp;amp; </span>b'),
    ],
)
def test_diff_marks_changes_and_escapes(original: str, edited: str, left: str, right: str) -> None:
    got_left, got_right = diff_html(original, edited)
    assert left in got_left and right in got_right
    assert "<script" not in got_left + got_right


def test_passwords_and_users_file(tmp_path: Path) -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert verify_password(PASSWORD, stored) and not verify_password(PASSWORD + "!", stored)
    assert not verify_password(PASSWORD, "scrypt$garbage") and not verify_password(PASSWORD, "")
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")
    path = tmp_path / "users.yaml"
    save_user(path, "alice", PASSWORD, {"acme": ["reviewer"], "globex": ["reader"]})
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    user = UserDirectory.load(path).authenticate("alice", PASSWORD)
    assert user.grants == {"acme": frozenset({Role.reviewer}), "globex": frozenset({Role.reader})}
    for name, password in (("alice", "wrong password"), ("mallory", PASSWORD)):
        with pytest.raises(SignInError, match="unknown username or wrong password"):
            UserDirectory.load(path).authenticate(name, password)
    with pytest.raises(ConfigError, match="unknown role"):
        save_user(path, "bob", PASSWORD, {"acme": ["superuser"]})
    with pytest.raises(ConfigError, match="not a tenant id"):
        save_user(path, "bob", PASSWORD, {"../x": ["reader"]})
    path.write_text("users:\n  carol:\n    password: x\n")
    with pytest.raises(ConfigError, match=r"users\.carol: needs `tenants"):
        UserDirectory.load(path)


def test_tokens_per_tenant(tmp_path: Path) -> None:
    minted: list[tuple[str, list[str], str]] = []

    def mint(tenant: str, roles: list[str], ttl: int, subject: str) -> str:
        minted.append((tenant, roles, subject))
        return token(tenant, *roles, subject=subject)

    user = save_user(tmp_path / "u.yaml", "alice", PASSWORD, {"acme": ["reviewer"]})
    who = reviewer_from_user(user)
    first = token_for(who, "acme", mint)
    assert token_for(who, "acme", mint) == first and minted == [("acme", ["reviewer"], "alice")]
    with pytest.raises(SignInError, match="no access to tenant 'globex'"):
        token_for(who, "globex", mint)
    # Close to expiry, a new token is minted.
    token_for(who, "acme", mint, now=who.tokens["acme"][1] - REMINT_MARGIN_SECONDS + 1)
    assert len(minted) == 2
    # A minter that shortens the lifetime (AION_JWT_MAX_TTL_SECONDS): the token's own exp is kept.
    short = reviewer_from_user(user)
    token_for(short, "acme", lambda t, r, ttl, s: mint_token(SECRET, tenant_id=t, roles=r, ttl_seconds=30, subject=s))
    assert short.tokens["acme"][1] <= time.time() + 31
    pasted = reviewer_from_token(token("acme", "reviewer", subject="bob"))
    assert (pasted.name, pasted.tenants, pasted.can_review("acme")) == ("bob", ["acme"], True)
    with pytest.raises(SignInError, match="expired"):
        token_for(pasted, "acme", mint, now=time.time() + 3600)
    for bad, message in (("not a jwt", "not a token"), ("", "paste the token")):
        with pytest.raises(SignInError, match=message):
            reviewer_from_token(bad)


def test_sign_in_throttle() -> None:
    throttle = SignInThrottle(max_failures=3, window=60)
    for _ in range(3):
        throttle.check("alice", now=1000)
        throttle.failed("alice", now=1000)
    with pytest.raises(SignInError, match="too many failed sign-ins for 'alice': try again in 61 s"):
        throttle.check("alice", now=1000)
    throttle.check("bob", now=1000)  # other usernames are not affected
    throttle.check("alice", now=1061)  # the window has passed
    throttle.failed("alice", now=1061)
    throttle.succeeded("alice")
    throttle.check("alice", now=1061)
