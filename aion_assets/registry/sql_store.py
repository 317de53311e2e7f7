"""The SQL implementation of the registry store (SQLite and PostgreSQL, as the application role).

See ``registry.store`` for the contract of every method; rows are mapped in ``registry.rows``.
The class is assembled from parts: ``sql_base`` (engine, clock, audit writer, version loader),
``sql_versions`` (versions and their status), ``sql_records`` (evaluation imports, deployments,
audit reads) and, here, routes and rollback.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aion_assets.core.db import tenant_pipeline, tenant_transaction
from aion_assets.core.errors import ConflictError, NotFoundError
from aion_assets.registry import tables as t
from aion_assets.registry.models import ModelStatus, ModelVersion, Route, RouteIn
from aion_assets.registry.rows import (  # the mappers are private to the sql_* modules of the store
    _pg_route_by_agent_sql,
    _route,
    _route_by_agent,
    _route_from,
    _route_query,
    _route_snapshot,
)
from aion_assets.registry.sql_records import SqlRecords
from aion_assets.registry.sql_versions import SqlVersions
from aion_assets.registry.store import RegistryStore
from aion_assets.registry.webhooks import deploy_event_key, deploy_trigger, enqueue_in


class SqlRegistryStore(SqlVersions, SqlRecords, RegistryStore):
    """The registry on SQLite or PostgreSQL.

    Args:
        engine: a SQLAlchemy engine from ``aion_assets.core.db.make_engine``, connected as
            the application role.
        clock: returns the current time (UTC); version names take their date from it.

    Versions and their status come from :class:`~aion_assets.registry.sql_versions.SqlVersions`;
    evaluation imports, deployments and the audit log from
    :class:`~aion_assets.registry.sql_records.SqlRecords`; routes and rollback are here.
    """

    # -- routes --------------------------------------------------------------------------

    def _serving_model(self, conn: Connection, tenant_id: str, model_id: uuid.UUID, field: str) -> ModelVersion:
        found = self._load_version(conn, tenant_id, model_id)
        if found is None:
            raise NotFoundError(f"{field} {model_id} is not a version of this tenant")
        if found.status is not ModelStatus.promoted:
            raise ConflictError(
                f"{field} {found.name} is {found.status.value}; only a promoted version can serve a route"
            )
        return found

    def _read_route(self, conn: Connection, tenant_id: str, agent_id: str) -> Route | None:
        row = conn.execute(_route_by_agent(), {"tenant_id": tenant_id, "agent_id": agent_id}).first()
        return None if row is None else _route(row)

    def _read_route_pipelined(self, tenant_id: str, agent_id: str) -> Route | None:
        """The route read on PostgreSQL in one round trip (``GET /routes/{agent_id}``, a gateway's hot path).

        ``BEGIN READ ONLY``, the tenant's ``set_config`` (so RLS applies), the one prepared SELECT and
        ``COMMIT`` go out as one pipeline (``tenant_pipeline``); the row is read once it has synced.
        ``tenant_transaction`` makes four round trips for the same read.
        """
        with tenant_pipeline(self.engine, tenant_id, read_only=True) as raw:
            cur = raw.cursor()  # read after the pipeline's one round trip
            cur.execute(_pg_route_by_agent_sql(), {"tenant_id": tenant_id, "agent_id": agent_id}, prepare=True)
        with cur:
            row = cur.fetchone()
            if row is None:
                return None
            return _route_from(dict(zip((c.name for c in cur.description), row, strict=True)))

    def _lock_route(self, conn: Connection, tenant_id: str, agent_id: str) -> Any:
        r = t.routes.c
        return conn.execute(
            sa.select(t.routes).where(r.tenant_id == tenant_id, r.agent_id == agent_id).with_for_update()
        ).first()

    def set_route(self, tenant_id: str, route: RouteIn, actor: str) -> Route:
        """See :meth:`RegistryStore.set_route`."""
        r = t.routes.c
        with tenant_transaction(self.engine, tenant_id) as conn:
            self._serving_model(conn, tenant_id, route.default_model_id, "default_model_id")
            if route.fallback_model_id is not None:
                self._serving_model(conn, tenant_id, route.fallback_model_id, "fallback_model_id")
            values = {
                "default_model_id": route.default_model_id,
                "fallback_model_id": route.fallback_model_id,
                "policy_json": route.policy,
                "updated_at": self._now(),
                "updated_by": actor,
            }
            before: Route | None = None
            if route.expected_version == 0:
                inserted = conn.execute(
                    self._insert(conn, t.routes)
                    .values(tenant_id=tenant_id, agent_id=route.agent_id, version=1, **values)
                    .on_conflict_do_nothing(index_elements=["tenant_id", "agent_id"])
                    .returning(r.version)
                ).first()
                if inserted is None:
                    raise ConflictError(
                        f"route {route.agent_id} already exists: expected_version 0 creates a route; read it "
                        "and name the version you replace"
                    )
            else:
                locked = self._lock_route(conn, tenant_id, route.agent_id)
                current = 0 if locked is None else locked.version
                if current != route.expected_version:
                    raise ConflictError(
                        f"route {route.agent_id} is at version {current}, the write names "
                        f"{route.expected_version}: another write came first; read the route and retry"
                    )
                before = self._read_route(conn, tenant_id, route.agent_id)
                updated = conn.execute(
                    sa.update(t.routes)
                    .where(r.tenant_id == tenant_id, r.agent_id == route.agent_id, r.version == current)
                    .values(version=current + 1, **values)
                )
                if updated.rowcount != 1:  # pragma: no cover - the row lock makes this unreachable
                    raise ConflictError(f"route {route.agent_id} changed during the write; retry")
            after = self._read_route(conn, tenant_id, route.agent_id)
            assert after is not None
            self._append_audit(
                conn, tenant_id, actor, "route.set", f"route:{route.agent_id}",
                None if before is None else _route_snapshot(before), _route_snapshot(after),
            )
        return after

    def get_route(self, tenant_id: str, agent_id: str) -> Route:
        """See :meth:`RegistryStore.get_route`."""
        if self.engine.dialect.name == "postgresql":
            found = self._read_route_pipelined(tenant_id, agent_id)
        else:
            with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
                found = self._read_route(conn, tenant_id, agent_id)
        if found is None:
            raise NotFoundError(f"no route for agent {agent_id}")
        return found

    def list_routes(self, tenant_id: str) -> list[Route]:
        """See :meth:`RegistryStore.list_routes`."""
        query = _route_query().where(t.routes.c.tenant_id == tenant_id).order_by(t.routes.c.agent_id)
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            return [_route(row) for row in conn.execute(query)]

    def rollback_route(
        self,
        tenant_id: str,
        agent_id: str,
        actor: str,
        *,
        expected_version: int | None = None,
        reason: str | None = None,
        deploy_webhook_url: str | None = None,
    ) -> Route:
        """See :meth:`RegistryStore.rollback_route`."""
        r = t.routes.c
        with tenant_transaction(self.engine, tenant_id) as conn:
            locked = self._lock_route(conn, tenant_id, agent_id)
            if locked is None:
                raise NotFoundError(f"no route for agent {agent_id}")
            if expected_version is not None and locked.version != expected_version:
                raise ConflictError(
                    f"route {agent_id} is at version {locked.version}, the rollback names {expected_version}"
                )
            if locked.fallback_model_id is None:
                raise ConflictError(f"route {agent_id} has no fallback version to roll back to")
            before = self._read_route(conn, tenant_id, agent_id)
            assert before is not None
            left = locked.default_model_id
            conn.execute(
                sa.update(t.routes)
                .where(r.tenant_id == tenant_id, r.agent_id == agent_id)
                .values(
                    default_model_id=locked.fallback_model_id,
                    fallback_model_id=None,
                    version=locked.version + 1,
                    updated_at=self._now(),
                    updated_by=actor,
                )
            )
            after = self._read_route(conn, tenant_id, agent_id)
            assert after is not None
            audit_after = _route_snapshot(after) | {"reason": reason, "left_model_id": str(left)}
            still_serving = self._routes_using(conn, tenant_id, left)
            if not still_serving:
                self._transition(
                    conn, tenant_id, left, ModelStatus.retired, actor,
                    reason=reason or f"rolled back from route {agent_id}", four_eyes=False, check_routes=False,
                )
            audit_after["left_model_retired"] = not still_serving
            self._append_audit(
                conn, tenant_id, actor, "route.rollback", f"route:{agent_id}", _route_snapshot(before), audit_after
            )
            if deploy_webhook_url is not None:
                cause = {"action": "rollback", "actor": actor, "reason": reason, "left_model_id": str(left),
                         "left_model_retired": not still_serving}
                enqueue_in(
                    conn, tenant_id, deploy_event_key(after), "deployment", deploy_webhook_url,
                    deploy_trigger(after, None, None, cause=cause), now=self._now(),
                )
        return after
