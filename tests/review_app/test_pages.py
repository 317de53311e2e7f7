"""Protects: every console page through streamlit's AppTest, against the real API on a loopback port
over a real database (SQLite, and PostgreSQL for the tenant boundary and a decision).

- sign-in with a password (wrong one refused, username kept) or a pasted token (a forged one refused
  by the API), and sign-out;
- approve, reject (a reason is required), amend then approve, each stored as shown (read back
  through the API);
- bulk decisions happen only after a confirmation, and only on the selected (filtered) edits;
- two reviewers on one edit: the second is told who decided, nothing is overwritten;
- the tenant boundary: a reviewer of A sees nothing of B, whatever is typed into the URL or a filter;
  a reader may look but not decide;
- an unreachable API is a clear error and the reason already typed is still there afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from aion_assets.app import create_app
from aion_assets.core.auth import TokenVerifier, mint_token
from aion_assets.core.db import make_engine
from aion_assets.core.serve import free_port, serve_in_thread
from aion_assets.memory.client import MemoryClient
from aion_assets.memory.models import EditStatus
from review_app import ui
from review_app.services import edit_label
from tests.conftest import Database

from .conftest import APP, PASSWORD, SECRET, Seeder, token

AddUser = Callable[..., str]


def console() -> AppTest:
    """A fresh console session."""
    return AppTest.from_file(str(APP), default_timeout=60)


def sign_in(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    """Sign in through the form; returns AT after the run."""
    at.run()
    at.text_input(key="signin_username").input(name)
    at.text_input(key="signin_password").input(password)
    return click_label(at, "Sign in")


def click_label(at: AppTest, label: str) -> AppTest:
    """Click the button labelled LABEL and run."""
    return next(b for b in at.button if b.label == label).click().run()


def page_text(at: AppTest) -> str:
    """Everything the page shows as text (markdown, text, captions, messages, table cells)."""
    parts = [e.value for e in [*at.markdown, *at.text, *at.caption, *at.error, *at.warning, *at.info, *at.success]]
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    for box in at.selectbox:
        parts.extend(str(o) for o in box.options)
    for box in at.multiselect:
        parts.extend(str(o) for o in box.options)
    return "\n".join(str(p) for p in parts)


def shown(at: AppTest, i: int, tenant: str) -> bool:
    """Whether the edit shown side by side is seeded edit I of TENANT (removed and added words marked)."""
    text = page_text(at)
    return (f'<span class="del">Old </span>answer {i} of {tenant}' in text
            and f'<span class="ins">New </span>answer {i} of {tenant}' in text)


def test_sign_in_with_password_and_out(console_env: AddUser, tenants: tuple[str, str]) -> None:
    console_env("alice", {tenants[0]: ["reviewer"]})
    at = sign_in(console(), "alice", "wrong password!")
    assert not at.exception
    assert [e.value for e in at.error] == ["unknown username or wrong password"]
    assert at.text_input(key="signin_username").value == "alice"  # what was typed stays
    at = sign_in(at, "alice")
    assert [t.value for t in at.title] == ["Edit review queue"]
    assert tenants[0] in page_text(at) and "No pending edits" in page_text(at)
    at = at.button(key="sign_out").click().run()
    assert [t.value for t in at.title] == ["AION reviewer console"]


def test_password_sign_in_refused_when_the_api_has_another_secret(console_env: AddUser, tenants: tuple[str, str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    console_env("alice", {tenants[0]: ["reviewer"]})
    monkeypatch.setenv("AION_JWT_SECRET", "not-the-api-secret-" + "n" * 24)
    at = sign_in(console(), "alice")
    assert at.error and "must share AION_JWT_SECRET" in at.error[0].value
    assert [t.value for t in at.title] == ["AION reviewer console"]


def test_sign_in_with_a_token(console_env: AddUser, seed: Seeder, tenants: tuple[str, str]) -> None:
    a, _ = tenants
    seed.edits(a, 1)
    at = console()
    at.run()
    forged = mint_token("another-secret-" + "f" * 24, tenant_id=a, roles=["reviewer"], subject="eve")
    at.text_area(key="signin_token").input(forged)
    at = click_label(at, "Sign in with token")
    assert at.error and "The API refuses this token: invalid token" in at.error[0].value
    assert [t.value for t in at.title] == ["AION reviewer console"]
    at.text_area(key="signin_token").input(token(a, "reviewer", subject="bob"))
    at = click_label(at, "Sign in with token")
    assert [t.value for t in at.title] == ["Edit review queue"]
    assert "Signed in as **bob**" in page_text(at) and shown(at, 0, a)


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_approve_reject_amend(console_env: AddUser, seed: Seeder, tenants: tuple[str, str]) -> None:
    a, _ = tenants
    e0, e1, e2 = seed.edits(a, 3)
    console_env("alice", {a: ["reviewer"]})
    at = sign_in(console(), "alice")
    assert shown(at, 0, a)
    at = at.button(key="approve").click().run()
    assert [s.value for s in at.success] == ["Approved."]
    stored = seed.read(a, e0.id)
    assert (stored.status, stored.reviewer) == (EditStatus.approved, "alice")
    # The next pending edit is shown; rejecting needs a reason.
    assert shown(at, 1, a) and not shown(at, 0, a)
    at = at.button(key="reject").click().run()
    assert [e.value for e in at.error] == ["Give a reason to reject."]
    assert seed.read(a, e1.id).status is EditStatus.pending
    at.text_input(key=f"draft:reason:{e1.id}").input("invents a warranty")
    at = at.button(key="reject").click().run()
    stored = seed.read(a, e1.id)
    assert (stored.status, stored.metadata["review_note"]) == (EditStatus.rejected, "invents a warranty")
    at.text_area(key=f"draft:amend:{e2.id}").input("New answer 2, amended by a human.")
    at = at.button(key="approve_amended").click().run()
    assert [s.value for s in at.success] == ["Approved (amended)."]
    stored = seed.read(a, e2.id)
    assert (stored.status, stored.edited_output) == (EditStatus.approved, "New answer 2, amended by a human.")
    assert "No pending edits" in page_text(at)


def test_bulk_needs_a_confirmation_and_follows_the_filters(console_env: AddUser, seed: Seeder,
                                                           tenants: tuple[str, str]) -> None:
    a, _ = tenants
    support = seed.edits(a, 3)
    *billing, spared = seed.edits(a, 3, agent_id="billing-bot", timestamp="2026-01-03T00:00:00+00:00")
    console_env("alice", {a: ["reviewer"]})
    at = sign_in(console(), "alice")
    at.text_input(key="f_agent").input("billing-bot")
    at = click_label(at, "Apply filters")
    assert sorted(at.multiselect(key="bulk_exclude").options) == sorted(edit_label(e) for e in [*billing, spared])
    at = at.multiselect(key="bulk_exclude").select(str(spared.id)).run()
    at = at.button(key="bulk_reject").click().run()
    assert [e.value for e in at.error] == ["Give a reason to reject."]
    at.text_input(key="draft:bulk_reason").input("duplicate of a billing macro")
    at = at.button(key="bulk_reject").click().run()
    assert "Reject 2 edit(s)" in at.warning[0].value
    at = at.button(key="bulk_no").click().run()  # cancel: nothing happens
    assert all(seed.read(a, e.id).status is EditStatus.pending for e in billing)
    at = at.button(key="bulk_reject").click().run()
    at = at.button(key="bulk_yes").click().run()
    assert "Bulk: 2 rejected." in at.success[0].value
    assert [seed.read(a, e.id).status for e in billing] == [EditStatus.rejected] * 2
    assert all(seed.read(a, e.id).status is EditStatus.pending for e in [*support, spared])
    assert seed.read(a, billing[0].id).metadata["review_note"] == "duplicate of a billing macro"


def test_second_reviewer_is_told_and_nothing_is_overwritten(console_env: AddUser, seed: Seeder,
                                                             tenants: tuple[str, str]) -> None:
    a, _ = tenants
    (edit,) = seed.edits(a, 1)
    console_env("alice", {a: ["reviewer"]})
    at = sign_in(console(), "alice")
    assert shown(at, 0, a)
    with MemoryClient(seed.base, token(a, "reviewer", subject="bob")) as bob:
        bob.review(edit.id, EditStatus.rejected, note="bob was first")
    at = at.button(key="approve").click().run()
    assert at.warning and "Already rejected by bob" in at.warning[0].value
    stored = seed.read(a, edit.id)
    assert (stored.status, stored.reviewer) == (EditStatus.rejected, "bob")


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_tenant_boundary(console_env: AddUser, seed: Seeder, tenants: tuple[str, str]) -> None:
    a, b = tenants
    seed.edits(a, 1)
    theirs = seed.edits(b, 2, agent_id="billing-bot", edited_output="GLOBEX SECRET ANSWER")
    console_env("alice", {a: ["reviewer"]})
    at = console()
    at.query_params["tenant"] = b
    at = sign_in(at, "alice")
    assert at.error and f"no access to tenant '{b}'" in at.error[0].value
    assert at.selectbox(key="queue_tenant").options == [a]
    text = page_text(at)
    assert "GLOBEX" not in text and "billing-bot" not in text and b not in text.replace(at.error[0].value, "")
    for typed in ("billing-bot", b, f"{b}/billing-bot", "' OR 1=1 --"):
        at.text_input(key="f_agent").input(typed)
        at = click_label(at, "Apply filters")
        assert "GLOBEX" not in page_text(at), typed
    assert all(seed.read(b, e.id).status is EditStatus.pending for e in theirs)


def test_reader_may_look_but_not_decide(console_env: AddUser, seed: Seeder, tenants: tuple[str, str]) -> None:
    a, b = tenants
    seed.edits(a, 1)
    seed.edits(b, 1)
    console_env("carol", {a: ["reviewer"], b: ["reader"]})
    at = sign_in(console(), "carol")
    assert at.selectbox(key="queue_tenant").options == sorted([a, b])
    at = at.selectbox(key="queue_tenant").select(b).run()
    assert shown(at, 0, b) and f"of {a}" not in page_text(at)
    assert at.button(key="approve").disabled and at.button(key="bulk_approve").disabled
    assert any("lets you read this queue, not decide" in i.value for i in at.info)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_unreachable_api_keeps_what_was_typed(console_env: AddUser, database: Database, tenants: tuple[str, str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = tenants
    port = free_port()
    console_env("alice", {a: ["reviewer"]})
    with serve_in_thread(create_app(make_engine(database.url), TokenVerifier(SECRET)), port=port) as base:
        monkeypatch.setenv("AION_API_URL", base)
        seed = Seeder(base)
        (edit,) = seed.edits(a, 1)
        at = sign_in(console(), "alice")
        at.text_input(key=f"draft:reason:{edit.id}").input("tone is rude")
    # The API is down now.
    at = at.button(key="reject").click().run()
    assert any("is unreachable" in e.value for e in at.error), [e.value for e in at.error]
    assert at.text_input(key=f"draft:reason:{edit.id}").value == "tone is rude"
    ui.load_page.clear()  # as in a fresh console process (a page read a moment ago would be shown from cache)
    other = sign_in(console(), "alice")  # a new session while the API is down: signed in, told why nothing shows
    assert any("is unreachable" in e.value for e in other.error)
    with serve_in_thread(create_app(make_engine(database.url), TokenVerifier(SECRET)), port=port):
        assert seed.read(a, edit.id).status is EditStatus.pending
        at.run()
        assert at.text_input(key=f"draft:reason:{edit.id}").value == "tone is rude"
        at = at.button(key="reject").click().run()
        stored = seed.read(a, edit.id)
        assert (stored.status, stored.metadata["review_note"]) == (EditStatus.rejected, "tone is rude")
