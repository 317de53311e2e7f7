"""Protects: tenant isolation of the registry and its append-only audit log.

Through the API on both backends: a token of tenant B gets 404 or 403 (never A's data) on every
registry endpoint that names or could reach tenant A's rows. On PostgreSQL, as the application role
in raw SQL: row-level security hides and protects A's rows in every registry table, and the audit log
cannot be updated, deleted or truncated (revoked privileges for the app role; a trigger for everyone,
the owner included). On SQLite a trigger refuses UPDATE and DELETE of the audit log too."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from aion_assets.core.db import make_engine, tenant_transaction
from aion_assets.registry.models import DeploymentIn, EvaluationImportIn, ModelStatus, RouteIn
from aion_assets.registry.sql_store import SqlRegistryStore
from aion_assets.registry.tables import TENANT_TABLES
from tests.registry.conftest import version_in

Headers = Callable[..., dict[str, str]]


def seed(store: SqlRegistryStore, tenant: str) -> dict[str, Any]:
    """A tenant with a candidate, a pending version, two promoted ones, a route with a fallback, a deployment
    and an imported evaluation."""
    candidate, _ = store.register_version(tenant, version_in(), "alice")
    pending, _ = store.register_version(tenant, version_in(status=ModelStatus.pending_approval), "alice")
    old, _ = store.register_version(tenant, version_in(status=ModelStatus.promoted), "alice")
    new, _ = store.register_version(tenant, version_in(status=ModelStatus.promoted), "alice")
    store.set_route(
        tenant, RouteIn(agent_id="bot", default_model_id=new.id, fallback_model_id=old.id, expected_version=0), "a"
    )
    store.set_deployment(tenant, DeploymentIn(model_id=new.id, environment="production", replica_count=1), "a")
    store.import_evaluation(tenant, EvaluationImportIn.model_validate(
        {"import_id": "imp-1", "model_id": new.id, "source": "harness", "metrics": [{"name": "m", "value": 0.5}]}
    ), "a")
    return {"candidate": candidate, "pending": pending, "old": old, "new": new}


def test_other_tenant_gets_404_or_403_on_every_endpoint(
    client: TestClient, headers: Headers, tenant: str, database  # type: ignore[no-untyped-def]
) -> None:
    engine = make_engine(database.url, pool_size=2)
    a = seed(SqlRegistryStore(engine), tenant)
    engine.dispose()
    b = "b-" + uuid.uuid4().hex[:8]
    hb = headers(b, "admin", "reviewer", subject="mallory")
    for model in a.values():
        assert client.get(f"/models/{model.id}", headers=hb).status_code == 404
    assert client.get("/models", headers=hb).json() == []
    assert client.get("/models", params={"tenant_id": tenant}, headers=hb).status_code == 403
    assert client.post("/models", json={**_body(), "tenant_id": tenant}, headers=hb).status_code == 403
    r = client.post("/models", json={**_body(), "parent_id": str(a["old"].id)}, headers=hb)
    assert r.status_code == 404 and "parent_id" in r.json()["message"]
    assert client.post(f"/models/{a['pending'].id}/approve", headers=hb).status_code == 404
    assert client.post(f"/models/{a['candidate'].id}/reject", headers=hb).status_code == 404
    assert client.get("/routes/bot", headers=hb).status_code == 404
    assert client.get("/routes", headers=hb).json() == []
    assert client.post("/routes/bot/rollback", headers=hb).status_code == 404
    r = client.post("/routes", json={"agent_id": "bot", "default_model_id": str(a["new"].id), "expected_version": 0},
                    headers=hb)
    assert r.status_code == 404 and "default_model_id" in r.json()["message"]
    r = client.post("/routes", json={"agent_id": "bot", "tenant_id": tenant, "default_model_id": str(a["new"].id),
                                     "expected_version": 1}, headers=hb)
    assert r.status_code == 403 and r.json()["field"] == "tenant_id"
    assert client.get("/audit", headers=hb).json() == []
    assert client.get("/deployments", headers=hb).json() == []
    assert client.get("/deployments", params={"model_id": str(a["new"].id)}, headers=hb).json() == []
    r = client.post("/deployments", json={"model_id": str(a["new"].id), "environment": "production",
                                          "replica_count": 0}, headers=hb)
    assert r.status_code == 404
    r = client.post("/evaluations/import", json={"import_id": "imp-1", "model_id": str(a["new"].id),
                                                 "source": "harness", "metrics": [{"name": "m", "value": 0.0}]},
                    headers=hb)
    assert r.status_code == 404
    # ... and nothing of A changed
    ha = headers(tenant, "admin")
    route = client.get("/routes/bot", headers=ha).json()
    assert route["version"] == 1 and route["default_model_id"] == str(a["new"].id)
    assert client.get("/deployments", headers=ha).json()[0]["replica_count"] == 1
    assert {m["name"] for m in client.get(f"/models/{a['new'].id}", headers=ha).json()["metrics"]} == {
        "key_fact_recall", "harness/m"
    }
    assert client.get(f"/models/{a['pending'].id}", headers=ha).json()["status"] == "pending_approval"
    assert client.get(f"/models/{a['candidate'].id}", headers=ha).json()["status"] == "candidate"


def _body() -> dict[str, Any]:
    return version_in().model_dump(mode="json", exclude_none=True)


@pytest.mark.postgres
def test_rls_hides_and_protects_other_tenants_rows(pg_database) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(pg_database.url, pool_size=1)
    store = SqlRegistryStore(engine)
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    seeded = {t: seed(store, t) for t in (a, b)}
    try:
        with tenant_transaction(engine, b) as conn:
            # The tables seed() writes to (TENANT_TABLES may grow with tables it does not fill).
            for table in ("models", "metrics", "routes", "deployments", "audit_log"):
                theirs = conn.execute(
                    sa.text(f"SELECT count(*) FROM aion_registry.{table} WHERE tenant_id = :t"), {"t": a}
                ).scalar_one()
                everything = conn.execute(sa.text(f"SELECT count(*) FROM aion_registry.{table}")).scalar_one()
                mine = conn.execute(
                    sa.text(f"SELECT count(*) FROM aion_registry.{table} WHERE tenant_id = :t"), {"t": b}
                ).scalar_one()
                assert theirs == 0 and everything == mine > 0, table
            changed = conn.execute(
                sa.text("UPDATE aion_registry.routes SET version = 99 WHERE tenant_id = :t"), {"t": a}
            ).rowcount
            assert changed == 0
            assert conn.execute(
                sa.text("UPDATE aion_registry.deployments SET replica_count = 99 WHERE tenant_id = :t"), {"t": a}
            ).rowcount == 0
            assert conn.execute(
                sa.text("UPDATE aion_registry.models SET status = 'retired' WHERE id = :id"),
                {"id": seeded[a]["new"].id},
            ).rowcount == 0
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), tenant_transaction(engine, b) as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO aion_registry.audit_log (id, tenant_id, actor, action, subject, at) "
                    "VALUES (:id, :t, 'mallory', 'forged', 'x', now())"
                ),
                {"id": uuid.uuid4(), "t": a},
            )
        with engine.connect() as conn:  # no tenant set: nothing visible
            for table in TENANT_TABLES:
                assert conn.execute(sa.text(f"SELECT count(*) FROM aion_registry.{table}")).scalar_one() == 0
        assert store.get_route(a, "bot").version == 1
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_audit_log_is_append_only_on_postgres(pg_database) -> None:  # type: ignore[no-untyped-def]
    app = make_engine(pg_database.url, pool_size=1)
    owner = make_engine(pg_database.admin_url, pool_size=1)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    SqlRegistryStore(app).register_version(tenant, version_in(), "alice")
    try:
        for stmt in (
            "UPDATE aion_registry.audit_log SET actor = 'nobody'",
            "DELETE FROM aion_registry.audit_log",
            "TRUNCATE aion_registry.audit_log",
        ):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), \
                    tenant_transaction(app, tenant) as conn:
                conn.execute(sa.text(stmt))
            # the owner (not under the revoke) is stopped by the trigger
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), tenant_transaction(owner, tenant) as conn:
                conn.execute(sa.text(stmt))
        with tenant_transaction(app, tenant) as conn:
            rows = conn.execute(sa.text("SELECT actor, action FROM aion_registry.audit_log")).all()
        assert [tuple(r) for r in rows] == [("alice", "model.register")]
    finally:
        app.dispose()
        owner.dispose()


def test_audit_log_is_append_only_on_sqlite(sqlite_database) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(sqlite_database.url, pool_size=1)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    SqlRegistryStore(engine).register_version(tenant, version_in(), "alice")
    try:
        for stmt in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(sa.text(stmt))
        with engine.connect() as conn:
            actors = conn.execute(sa.text("SELECT actor FROM audit_log WHERE tenant_id = :t"), {"t": tenant}).all()
        assert [r[0] for r in actors] == ["alice"]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "assignment",
    [f"manifest_sha256 = '{'0' * 64}'", "name = name || '.9'", "adapter_uri = 's3://x/y'"],
)
def test_registered_version_identity_cannot_change(database, tenant: str, assignment: str) -> None:  # type: ignore[no-untyped-def]
    """As the app role on either backend: a name always means the same weights (only the status moves)."""
    engine = make_engine(database.url, pool_size=1)
    store = SqlRegistryStore(engine)
    version, _ = store.register_version(tenant, version_in(), "alice")
    table = "aion_registry.models" if database.backend == "postgres" else "models"
    try:
        with pytest.raises(sa.exc.DBAPIError, match="immutable"), tenant_transaction(engine, tenant) as conn:
            conn.execute(sa.text(f"UPDATE {table} SET {assignment} WHERE id = :id"), {"id": _id(database, version.id)})
        assert store.get_version(tenant, version.id) == version
        assert store.transition(tenant, version.id, ModelStatus.rejected, "bob").status is ModelStatus.rejected
    finally:
        engine.dispose()


def _id(database, value: uuid.UUID) -> Any:  # type: ignore[no-untyped-def]
    # SQLAlchemy stores sa.Uuid as 32 hex characters on SQLite and as uuid on PostgreSQL.
    return value if database.backend == "postgres" else value.hex
