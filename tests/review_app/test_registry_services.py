"""Protects: the plain logic of the console's registry pages (review_app.registry_*) and the typed
registry client (aion_assets.registry.http_client), against the real API on a loopback port over a real
database; the retry rules against a scripted transport (the server's answers are the input there).

- RegistryClient retries connection errors and 5xx within its budget and never a 4xx; a bad agent id in a
  path is a 422 naming the field; another tenant's version is a 404;
- the baseline is the parent, else the newest promoted version of the domain; a metric one side lacks is
  shown empty, never as 0;
- a decision already taken by someone else is reported as such; a rollback of a route changed since it was
  shown is refused and changes nothing; the route history comes from the audit log only for an admin;
- the audit filters narrow by actor and text; version names are shortened without their tenant.
"""

from __future__ import annotations

import httpx
import pytest

from aion_assets.registry.http_client import RegistryApiError, RegistryClient
from aion_assets.registry.models import ModelStatus
from review_app.registry_audit import AuditFilters, fetch_audit
from review_app.registry_promotions import baseline_of, compare_metrics, decide_promotion
from review_app.registry_routes import rollback_route, route_history
from review_app.registry_services import short_name

from .conftest import Seeder
from .registry_seed import RegistrySeeder


@pytest.fixture
def registry(seed: Seeder) -> RegistrySeeder:
    """Seeds registry rows through the served API."""
    return RegistrySeeder(seed.base)


def test_client_retries_5xx_and_never_4xx() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/approve"):
            return httpx.Response(403, json={"error": "forbidden", "message": "four-eyes rule: no"})
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused")
        if len(calls) == 2:
            return httpx.Response(503, json={"error": "unavailable", "message": "db down"})
        return httpx.Response(200, json=[])

    with RegistryClient("http://x", "tok", max_retries=3, backoff=0.001,
                        transport=httpx.MockTransport(handler)) as rc:
        assert rc.list_routes() == [] and len(calls) == 3
        with pytest.raises(RegistryApiError) as err:
            rc.approve("00000000-0000-0000-0000-000000000001")
        assert (err.value.status, err.value.attempts, len(calls)) == (403, 1, 4)
        assert err.value.message == "four-eyes rule: no"


def test_client_gives_up_after_its_retries() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(500, json={"error": "internal", "message": "boom"})

    with RegistryClient("http://x", "tok", max_retries=2, backoff=0.001,
                        transport=httpx.MockTransport(handler)) as rc, pytest.raises(RegistryApiError) as err:
        rc.list_models()
    assert (err.value.status, err.value.attempts, calls["n"]) == (500, 3, 3)


def test_client_against_the_api(registry: RegistrySeeder, tenants: tuple[str, str]) -> None:
    a, b = tenants
    theirs = registry.version(b, {"accuracy": (0.5, None, None)})
    with registry.client(a, "reviewer", "admin", subject="alice") as rc:
        assert rc.list_models() == []
        with pytest.raises(RegistryApiError) as err:
            rc.get_model(theirs.id)
        assert err.value.status == 404
        with pytest.raises(RegistryApiError) as err:
            rc.rollback("bad id!")  # quoted into one path segment, refused by its pattern
        assert (err.value.status, err.value.field) == (422, "agent_id")
        with pytest.raises(RegistryApiError) as err:
            rc.rollback("../routes")  # a "/" never reaches another route
        assert err.value.status == 404
        with pytest.raises(RegistryApiError) as err:
            rc.list_audit(limit=5000)
        assert (err.value.status, err.value.field) == (422, "limit")
    with registry.client(a, "reviewer", subject="alice") as rc, pytest.raises(RegistryApiError) as err:
        rc.list_audit()
    assert err.value.status == 403


def test_baseline_and_metric_comparison(registry: RegistrySeeder, tenants: tuple[str, str]) -> None:
    a, _ = tenants
    older = registry.promoted(a, {"accuracy": (0.6, None, None)})
    newest = registry.promoted(a, {"accuracy": (0.7, 0.65, 0.75), "bleu": (0.2, None, None)})
    orphan = registry.version(a, {"accuracy": (0.8, 0.7, 0.9)})
    child = registry.version(a, {"accuracy": (0.9, None, None)}, parent=older)
    registry.promoted(a, {"accuracy": (0.99, None, None)}, domain="billing")
    with registry.client(a, "reader", subject="r") as rc:
        parent = baseline_of(rc, child)
        assert parent is not None and parent.id == older.id
        baseline = baseline_of(rc, orphan)
    assert baseline is not None and baseline.id == newest.id
    rows = {r["metric"]: r for r in compare_metrics(orphan, baseline)}
    assert rows["accuracy"]["difference"] == pytest.approx(0.1)
    assert (rows["accuracy"]["candidate 95% CI"], rows["accuracy"]["baseline 95% CI"]) == (
        "[0.7000, 0.9000]", "[0.6500, 0.7500]")
    assert (rows["bleu"]["candidate"], rows["bleu"]["baseline"], rows["bleu"]["difference"]) == (None, 0.2, None)
    assert compare_metrics(orphan, None)[0]["baseline"] is None


def test_decision_taken_by_someone_else_is_reported(registry: RegistrySeeder, tenants: tuple[str, str]) -> None:
    a, _ = tenants
    version = registry.version(a, {"accuracy": (0.8, None, None)})
    with registry.client(a, "reviewer", subject="bob") as bob:
        bob.approve(version.id, reason="bob first")
    with registry.client(a, "reviewer", subject="alice") as alice:
        outcome = decide_promotion(alice, version.id, True, "alice")
        assert outcome.kind == "already" and "already approved by bob" in outcome.message
        refused = decide_promotion(alice, version.id, False, "alice", "too late")
        assert refused.kind == "refused" and "cannot become rejected" in refused.message
    stored = registry.read(a, version.id)
    assert (stored.status, stored.status_changed_by, stored.status_reason) == (ModelStatus.promoted, "bob", "bob first")


def test_stale_rollback_is_refused_and_history_follows_the_role(registry: RegistrySeeder,
                                                                 tenants: tuple[str, str]) -> None:
    a, _ = tenants
    old = registry.promoted(a, {"accuracy": (0.7, None, None)})
    new = registry.promoted(a, {"accuracy": (0.8, None, None)})
    route = registry.route(a, "support-bot", new, old)
    with registry.client(a, "reviewer", subject="alice") as rc:
        stale = rollback_route(rc, "support-bot", route.version + 1, "not what I saw")
        assert stale.kind == "refused" and "Nothing was changed" in stale.message
        assert registry.read_route(a, "support-bot").default_model_id == new.id
        rows, note = route_history(rc, route, may_read_audit=False)
        assert [r["action"] for r in rows] == ["current"] and "only an admin" in note
        assert rollback_route(rc, "support-bot", route.version, "regressed").kind == "done"
    with registry.client(a, "admin", subject="dana") as rc:
        rows, note = route_history(rc, registry.read_route(a, "support-bot"), may_read_audit=True)
        assert [(r["action"], r["by"], r["reason"]) for r in rows] == [
            ("route.rollback", "alice", "regressed"), ("route.set", "ops", "")]
        assert rows[0]["default"] == short_name(old.name) and rows[0]["fallback"] == "(none)"
        by_actor = fetch_audit(rc, AuditFilters(actor="ALI"))
        assert {e.action for e in by_actor} == {"route.rollback", "model.retired"}
        by_text = fetch_audit(rc, AuditFilters(action="route.rollback", text="regressed"))
        assert len(by_text) == 1 and fetch_audit(rc, AuditFilters(text="no such words")) == []


def test_short_name() -> None:
    assert short_name("qwen2.5-0.5b+seal-acme~support@2026.11.29.2") == "qwen2.5-0.5b support@2026.11.29.2"
    assert short_name("base+seal-we%7Eird~billing@2026.01.01") == "base billing@2026.01.01"
    assert short_name("not-a-registry-name") == "not-a-registry-name"
