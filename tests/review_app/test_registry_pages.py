"""Protects: the console's registry pages (promotions, models and lineage, routes, audit log) through
streamlit's AppTest, against the real API on a loopback port over a real database (SQLite, and
PostgreSQL for a promotion decision and the tenant boundary), with registry rows seeded through the API.

- promotions: the candidate's metrics and bootstrap intervals beside its parent's; approve promotes it and
  reject (a comment is required) rejects it, each stored with the reviewer and the comment;
- the four-eyes rule: a reviewer who registered a version is refused clearly, and nothing changes;
- models and lineage: parent, dataset version, evaluation run and source edit count of every version, and a
  chart of each metric over the versions of a domain;
- routes: rollback only after a confirmation (Cancel changes nothing), then the fallback serves; the
  history comes from the audit log for an admin, and from the routes API otherwise;
- an unreachable registry is a clear error, and the comment already typed is still there afterwards;
- audit log: admins only (the page is not offered to others), filterable by action;
- the tenant boundary: a reviewer of A sees none of B's versions, routes or audit entries, whatever is
  typed into the URL or a filter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from aion_assets.app import create_app
from aion_assets.core.artifacts import LocalArtifactStore
from aion_assets.core.auth import TokenVerifier
from aion_assets.core.db import make_engine
from aion_assets.core.serve import free_port, serve_in_thread
from aion_assets.registry.evaluation import examples_key
from aion_assets.registry.models import ModelStatus
from review_app.registry_services import short_name
from tests.conftest import Database

from .conftest import PASSWORD, SECRET, Seeder
from .registry_seed import RegistrySeeder
from .test_pages import click_label, console, page_text

AddUser = Callable[..., str]


@pytest.fixture
def registry(seed: Seeder) -> RegistrySeeder:
    """Seeds registry rows through the served API."""
    return RegistrySeeder(seed.base)


def open_page(at: AppTest, name: str, password: str = PASSWORD) -> AppTest:
    """Sign in as NAME through the form (the console opens on the edit queue); returns AT after the run."""
    at.run()
    at.text_input(key="signin_username").input(name)
    at.text_input(key="signin_password").input(password)
    return click_label(at, "Sign in")


def goto(at: AppTest, page: str, **params: str) -> AppTest:
    """Switch the signed-in session AT to app_pages/PAGE.py with URL query PARAMS."""
    at.switch_page(f"app_pages/{page}.py")
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def charts(at: AppTest) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """The altair charts shown: each one's Vega-Lite spec and its data (sent apart, as Arrow)."""
    out = []
    for chart in at.get("vega_lite_chart"):
        proto = chart.proto
        tables = [proto.data.data] if proto.HasField("data") else [d.data.data for d in proto.datasets]
        data = pd.concat([convert_arrow_bytes_to_pandas_df(t) for t in tables], ignore_index=True)
        out.append((json.loads(proto.spec), data))
    return out


def test_promotion_shows_scenarios_and_the_answers_that_differ_most(
    console_env: AddUser, registry: RegistrySeeder, tenants: tuple[str, str], artifacts: LocalArtifactStore
) -> None:
    a, _ = tenants
    parent = registry.promoted(a, {"rougeL_body": (0.20, None, None)})
    candidate = registry.version(a, {"rougeL_body": (0.60, 0.50, 0.70)}, parent=parent)
    assert candidate.evaluation_run_id is not None
    report = []
    for role, score, passed in (("baseline", 0.1, False), ("candidate", 0.9, True)):
        report.append({"role": role, "id": "e1", "source": "eval", "prompt": "How do I reset the hub?",
                       "reference": "Hold Reset for 10 seconds.", "answer": f"{role} says <b>hi</b>",
                       "rougeL_body": score})
        report.append({"role": role, "id": "s1", "source": "scenario", "prompt": "Refund after 40 days?",
                       "answer": "...", "passed": passed})
    key = examples_key(a, "support", candidate.evaluation_run_id)
    artifacts.put_bytes(key, "".join(json.dumps(r) + "\n" for r in report).encode())
    console_env("alice", {a: ["reviewer"]})
    at = goto(open_page(console(), "alice"), "promotions")
    assert not at.exception
    scenarios = at.dataframe[1].value
    assert scenarios.to_dict("records") == [{"scenario": "s1", "prompt": "Refund after 40 days?",
                                            "baseline": "FAILED", "candidate": "passed", "change": "now passes"}]
    (diff,) = at.expander
    assert diff.label == "How do I reset the hub? — rougeL_body 0.10 → 0.90 (+0.80)"
    texts = [x.value for x in diff.text]
    # Answers are shown as plain text: markup in a model's answer is never rendered.
    assert texts == ["How do I reset the hub?", "baseline says <b>hi</b>", "candidate says <b>hi</b>",
                     "Hold Reset for 10 seconds."]


def test_promotion_says_why_when_the_report_is_missing(
    console_env: AddUser, registry: RegistrySeeder, tenants: tuple[str, str]
) -> None:
    a, _ = tenants
    registry.version(a, {"rougeL_body": (0.60, None, None)})
    console_env("alice", {a: ["reviewer"]})
    at = goto(open_page(console(), "alice"), "promotions")
    assert not at.exception
    assert any("evaluation report could not be read" in i.value for i in at.info)


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_promotion_approve_and_reject(console_env: AddUser, registry: RegistrySeeder,
                                      tenants: tuple[str, str]) -> None:
    a, _ = tenants
    parent = registry.promoted(a, {"accuracy": (0.70, 0.65, 0.75), "refusal_rate": (0.10, None, None)})
    first = registry.version(a, {"accuracy": (0.78, 0.73, 0.83), "refusal_rate": (0.08, None, None)}, parent=parent)
    second = registry.version(a, {"accuracy": (0.60, 0.55, 0.65)}, parent=parent)
    console_env("alice", {a: ["reviewer"]})
    at = goto(open_page(console(), "alice"), "promotions")
    assert not at.exception
    assert [t.value for t in at.title] == ["Promotions"]
    table = at.dataframe[0].value
    row = table[table["metric"] == "accuracy"].iloc[0]
    assert (row["candidate"], row["baseline"]) == (0.78, 0.70)
    assert (row["candidate 95% CI"], row["baseline 95% CI"]) == ("[0.7300, 0.8300]", "[0.6500, 0.7500]")
    assert row["difference"] == pytest.approx(0.08)
    assert parent.name in page_text(at) and charts(at)

    at.text_area(key=f"draft:promo_comment:{first.id}").input("better on refunds")
    at = at.button(key="promo_approve").click().run()
    assert [s.value for s in at.success] == [f"`{first.name}` promoted."]
    stored = registry.read(a, first.id)
    assert (stored.status, stored.status_changed_by, stored.status_reason) == (
        ModelStatus.promoted, "alice", "better on refunds")
    # The second candidate is shown now; rejecting needs a comment.
    assert at.selectbox(key="promo_pick").value == str(second.id)
    at = at.button(key="promo_reject").click().run()
    assert [e.value for e in at.error] == ["Give a comment to reject."]
    assert registry.read(a, second.id).status is ModelStatus.pending_approval
    at.text_area(key=f"draft:promo_comment:{second.id}").input("accuracy regressed by 0.10")
    at = at.button(key="promo_reject").click().run()
    stored = registry.read(a, second.id)
    assert (stored.status, stored.status_changed_by, stored.status_reason) == (
        ModelStatus.rejected, "alice", "accuracy regressed by 0.10")
    assert "No version is waiting for approval." in page_text(at)


def test_four_eyes_refusal_is_shown(console_env: AddUser, registry: RegistrySeeder,
                                    tenants: tuple[str, str]) -> None:
    a, _ = tenants
    mine = registry.version(a, {"accuracy": (0.9, None, None)}, by="alice")
    console_env("alice", {a: ["reviewer", "admin"]})
    at = goto(open_page(console(), "alice"), "promotions")
    at.text_area(key=f"draft:promo_comment:{mine.id}").input("looks good to me")
    at = at.button(key="promo_approve").click().run()
    assert at.error and "Refused by the four-eyes rule" in at.error[0].value
    assert "alice registered or requested" in at.error[0].value
    stored = registry.read(a, mine.id)
    assert (stored.status, stored.status_changed_by) == (ModelStatus.pending_approval, "alice")
    # What was typed is kept, and the version is still offered for another reviewer.
    assert at.text_area(key=f"draft:promo_comment:{mine.id}").value == "looks good to me"
    assert at.selectbox(key="promo_pick").value == str(mine.id)


def test_models_and_lineage(console_env: AddUser, registry: RegistrySeeder, tenants: tuple[str, str]) -> None:
    a, _ = tenants
    v1 = registry.promoted(a, {"accuracy": (0.70, 0.65, 0.75)}, dataset_version="ds-one", evaluation_run_id="run-one")
    v2 = registry.version(a, {"accuracy": (0.74, 0.70, 0.78)}, parent=v1, dataset_version="ds-two",
                          evaluation_run_id="run-two", source_edit_count=17)
    registry.version(a, {"bleu": (0.3, None, None)}, domain="billing")
    console_env("carol", {a: ["reader"]})
    at = goto(open_page(console(), "carol"), "models")
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table["version"] == short_name(v2.name)].iloc[0]
    assert (row["parent"], row["dataset version"], row["evaluation run"], row["source edits"]) == (
        short_name(v1.name), "ds-two", "run-two", 17)
    assert short_name(v2.name).startswith("qwen2.5-0.5b support@") and a not in short_name(v2.name)
    assert len(table) == 3
    # The chart shows accuracy over the two support versions, in order of registration.
    at = at.selectbox(key="models_chart_domain").select("support").run()
    ((spec, data),) = charts(at)  # support has one metric: one chart
    assert spec["title"]["text"] == "accuracy"
    assert list(zip(data["version"], data["value"], data["ci_high"], strict=True)) == [
        (v1.name, 0.70, 0.75), (v2.name, 0.74, 0.78)]
    # Lineage of the version named in the URL.
    at = goto(at, "models", model=str(v2.id))
    facts = dict(at.dataframe[1].value.itertuples(index=False, name=None))
    assert facts["Parent"] == f"{v1.name} (promoted)"
    assert (facts["Dataset version"], facts["Evaluation run"], facts["Source edits"]) == ("ds-two", "run-two", "17")


def test_rollback_needs_a_confirmation(console_env: AddUser, registry: RegistrySeeder,
                                       tenants: tuple[str, str]) -> None:
    a, _ = tenants
    old = registry.promoted(a, {"accuracy": (0.70, None, None)})
    new = registry.promoted(a, {"accuracy": (0.75, None, None)}, parent=old)
    registry.route(a, "support-bot", new, old)
    console_env("alice", {a: ["reviewer"]})
    at = goto(open_page(console(), "alice"), "routes")
    assert not at.exception
    routes = at.dataframe[0].value
    assert routes.iloc[0].to_dict() | {"updated": ""} == {
        "agent": "support-bot", "default": short_name(new.name), "fallback": short_name(old.name),
        "route version": 1, "updated": ""}
    assert "Only the current route" in page_text(at)  # a reviewer may not read the audit log
    at.text_input(key="draft:rollback_reason:support-bot").input("refunds regressed")
    at = at.button(key="rollback").click().run()
    assert at.warning and "Roll back **support-bot**" in at.warning[0].value
    at = at.button(key="rollback_no").click().run()  # cancel: nothing happens
    assert registry.read_route(a, "support-bot").version == 1
    assert at.text_input(key="draft:rollback_reason:support-bot").value == "refunds regressed"
    at = at.button(key="rollback").click().run()
    at = at.button(key="rollback_yes").click().run()
    assert at.success and f"now serves `{old.name}`" in at.success[0].value
    route = registry.read_route(a, "support-bot")
    assert (route.default_model_id, route.fallback_model_id, route.version) == (old.id, None, 2)
    assert registry.read(a, new.id).status is ModelStatus.retired
    assert "has no fallback version" in page_text(at)


def test_route_history_and_audit_log_for_an_admin(console_env: AddUser, registry: RegistrySeeder,
                                                  tenants: tuple[str, str]) -> None:
    a, _ = tenants
    old = registry.promoted(a, {"accuracy": (0.70, None, None)})
    new = registry.promoted(a, {"accuracy": (0.75, None, None)})
    registry.route(a, "support-bot", new, old)
    with registry.client(a, "reviewer", subject="bob") as rc:
        rc.rollback("support-bot", expected_version=1, reason="bob rolled back")
    console_env("dana", {a: ["admin"]})
    at = goto(open_page(console(), "dana"), "routes")
    history = at.dataframe[1].value
    assert list(history["action"]) == ["route.rollback", "route.set"]
    assert history.iloc[0]["reason"] == "bob rolled back" and history.iloc[0]["default"] == short_name(old.name)
    # The status history of the version rolled back from, from the audit log.
    at = goto(at, "models", model=str(new.id))
    status = next(d.value for d in at.dataframe if "from" in d.value.columns)
    assert list(zip(status["action"], status["to"], status["by"], strict=True)) == [
        ("model.retired", "retired", "bob"), ("model.promoted", "promoted", "release-manager"),
        ("model.register", "pending_approval", "pipeline")]
    at = goto(at, "audit_log")
    assert [t.value for t in at.title] == ["Audit log"]
    actions = set(at.dataframe[0].value["action"])
    assert {"model.register", "model.promoted", "route.set", "route.rollback", "model.retired"} <= actions
    at.text_input(key="a_action").input("route.rollback")
    at = click_label(at, "Apply filters")
    table = at.dataframe[0].value
    assert list(table["action"]) == ["route.rollback"] and list(table["actor"]) == ["bob"]
    # Read-only: the only buttons are the filters' and the sign-out.
    assert sorted(b.label for b in at.button) == ["Apply filters", "Sign out"]


def test_audit_log_is_for_admins_only(console_env: AddUser, registry: RegistrySeeder,
                                      tenants: tuple[str, str]) -> None:
    a, _ = tenants
    registry.version(a, {"accuracy": (0.7, None, None)})
    console_env("alice", {a: ["reviewer"]})
    at = open_page(console(), "alice")
    assert [t.value for t in at.title] == ["Edit review queue"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # the page is not offered
        goto(at, "audit_log")


@pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)
def test_tenant_boundary(console_env: AddUser, registry: RegistrySeeder, tenants: tuple[str, str]) -> None:
    a, b = tenants
    mine = registry.promoted(a, {"accuracy": (0.7, None, None)})
    registry.version(a, {"accuracy": (0.8, None, None)}, parent=mine)
    theirs_old = registry.promoted(b, {"accuracy": (0.5, None, None)})
    theirs = registry.promoted(b, {"accuracy": (0.6, None, None)})
    pending_b = registry.version(b, {"accuracy": (0.9, None, None)}, parent=theirs)
    registry.route(b, "globex-bot", theirs, theirs_old)
    console_env("alice", {a: ["reviewer", "admin"]})
    at = open_page(console(), "alice")
    for page in ("promotions", "models", "routes", "audit_log"):
        at = goto(at, page, tenant=b)
        assert not at.exception, page
        assert at.error and f"no access to tenant '{b}'" in at.error[0].value, page
        text = page_text(at).replace(at.error[0].value, "")
        assert b not in text and "globex-bot" not in text, page
        assert at.sidebar.selectbox[0].options == [a], page
    # A version of B named in the URL is "not found", like one that does not exist.
    at = goto(at, "models", model=str(pending_b.id))
    assert any("does not exist (or belongs to another tenant)" in e.value for e in at.error)
    assert b not in page_text(at).replace(str(pending_b.id), "")
    # Filters of the audit log cannot reach B's entries.
    at = goto(at, "audit_log")
    for action, subject in (("route.set", "route:globex-bot"), ("", f"model:{theirs.id}"), ("' OR 1=1 --", "")):
        at.text_input(key="a_action").input(action)
        at.text_input(key="a_subject").input(subject)
        at = click_label(at, "Apply filters")
        assert b not in page_text(at) and "globex-bot" not in page_text(at), (action, subject)
    assert registry.read(b, pending_b.id).status is ModelStatus.pending_approval


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_unreachable_registry_keeps_the_comment(console_env: AddUser, database: Database, tenants: tuple[str, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = tenants
    port = free_port()
    console_env("alice", {a: ["reviewer"]})
    with serve_in_thread(create_app(make_engine(database.url), TokenVerifier(SECRET)), port=port) as base:
        monkeypatch.setenv("AION_API_URL", base)
        registry = RegistrySeeder(base)
        version = registry.version(a, {"accuracy": (0.8, None, None)})
        at = goto(open_page(console(), "alice"), "promotions")
        at.text_area(key=f"draft:promo_comment:{version.id}").input("worse on refunds")
    # The API is down now.
    at = at.button(key="promo_reject").click().run()
    assert any("registry API" in e.value and "is unreachable" in e.value for e in at.error), [
        e.value for e in at.error]
    assert at.text_area(key=f"draft:promo_comment:{version.id}").value == "worse on refunds"
    with serve_in_thread(create_app(make_engine(database.url), TokenVerifier(SECRET)), port=port):
        assert registry.read(a, version.id).status is ModelStatus.pending_approval
        at = at.button(key="promo_reject").click().run()
        stored = registry.read(a, version.id)
        assert (stored.status, stored.status_reason) == (ModelStatus.rejected, "worse on refunds")
