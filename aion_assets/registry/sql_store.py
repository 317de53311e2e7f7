"""The SQL implementation of the registry store (SQLite and PostgreSQL, as the application role).

See ``registry.store`` for the contract of every method; rows are mapped in ``registry.rows``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from aion_assets.core.auth import ForbiddenError
from aion_assets.core.db import tenant_transaction
from aion_assets.core.errors import ConflictError, NotFoundError
from aion_assets.registry import tables as t
from aion_assets.registry.models import (
    AuditEntry,
    Deployment,
    DeploymentIn,
    EvaluationImport,
    EvaluationImportIn,
    Metric,
    ModelStatus,
    ModelVersion,
    ModelVersionIn,
    Route,
    RouteIn,
    transition_error,
    utc,
)
from aion_assets.registry.naming import family_name, next_version_name
from aion_assets.registry.rows import (  # the mappers are private to the store's two modules
    _audit,
    _deployment,
    _deployment_query,
    _metric,
    _request_hash,
    _route,
    _route_query,
    _route_snapshot,
    _version,
    _version_snapshot,
)
from aion_assets.registry.store import REGISTER_ATTEMPTS, RegistryStore


class SqlRegistryStore(RegistryStore):
    """The registry on SQLite or PostgreSQL.

    Args:
        engine: a SQLAlchemy engine from ``aion_assets.core.db.make_engine``, connected as
            the application role.
        clock: returns the current time (UTC); version names take their date from it.
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self._audit_lock = threading.Lock()
        self._last_audit_at = datetime.min.replace(tzinfo=UTC)

    def _now(self) -> datetime:
        return utc(self._clock())

    @staticmethod
    def _insert(conn: Connection, table: sa.Table) -> Any:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def _append_audit(
        self,
        conn: Connection,
        tenant_id: str,
        actor: str,
        action: str,
        subject: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        with self._audit_lock:
            # Strictly increasing within this process, so entries written in one transaction
            # (a rollback's model.retired, then route.rollback) list in the order they happened.
            at = max(self._now(), self._last_audit_at + timedelta(microseconds=1))
            self._last_audit_at = at
        conn.execute(
            sa.insert(t.audit_log).values(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                actor=actor,
                action=action,
                subject=subject,
                before_json=before,
                after_json=after,
                at=at,
            )
        )

    def _load_version(
        self, conn: Connection, tenant_id: str, model_id: uuid.UUID, *, lock: bool = False
    ) -> ModelVersion | None:
        query = sa.select(t.models).where(t.models.c.id == model_id, t.models.c.tenant_id == tenant_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            return None
        metrics = conn.execute(
            sa.select(t.metrics).where(t.metrics.c.model_id == model_id, t.metrics.c.tenant_id == tenant_id)
            .order_by(t.metrics.c.name)
        )
        return _version(row, (_metric(m) for m in metrics))

    # -- versions ------------------------------------------------------------------------

    def register_version(self, tenant_id: str, item: ModelVersionIn, actor: str) -> tuple[ModelVersion, bool]:
        """See :meth:`RegistryStore.register_version`."""
        family = family_name(item.base_model, tenant_id, item.domain)
        for _attempt in range(REGISTER_ATTEMPTS):
            try:
                return self._register_once(tenant_id, item, actor, family)
            except sa.exc.IntegrityError:
                # A concurrent registration took this manifest or this name first; the
                # next attempt sees its row and answers accordingly.
                continue
        raise ConflictError(
            f"registering manifest {item.manifest_sha256} collided with concurrent registrations "
            f"{REGISTER_ATTEMPTS} times; retry"
        )

    def _register_once(
        self, tenant_id: str, item: ModelVersionIn, actor: str, family: str
    ) -> tuple[ModelVersion, bool]:
        c = t.models.c
        with tenant_transaction(self.engine, tenant_id) as conn:
            existing = conn.execute(
                sa.select(c.id).where(c.tenant_id == tenant_id, c.manifest_sha256 == item.manifest_sha256)
            ).first()
            if existing is not None:
                found = self._load_version(conn, tenant_id, existing.id)
                assert found is not None
                return found, False
            if item.parent_id is not None and self._load_version(conn, tenant_id, item.parent_id) is None:
                raise NotFoundError(f"parent_id {item.parent_id} is not a version of this tenant")
            now = self._now()
            taken = conn.execute(
                sa.select(c.name).where(c.tenant_id == tenant_id, c.name.startswith(f"{family}@", autoescape=True))
            ).scalars()
            row: dict[str, Any] = {
                "id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "name": next_version_name(family, now.date(), taken),
                "parent_id": item.parent_id,
                "adapter_uri": item.adapter_uri,
                "status": item.status.value,
                "created_at": now,
                "created_by": actor,
                "description": item.description,
                "base_model": item.base_model,
                "domain": item.domain,
                "dataset_version": item.dataset_version,
                "evaluation_run_id": item.evaluation_run_id,
                "source_edit_count": item.source_edit_count,
                "manifest_sha256": item.manifest_sha256,
                "status_changed_at": now,
                "status_changed_by": actor,
                "status_reason": item.status_reason,
            }
            conn.execute(sa.insert(t.models).values(row))
            ordered = sorted(item.metrics, key=lambda m: m.name)
            if ordered:
                conn.execute(
                    sa.insert(t.metrics),
                    [{"model_id": row["id"], "tenant_id": tenant_id, **m.model_dump()} for m in ordered],
                )
            version = ModelVersion.model_validate(row | {"metrics": [m.model_dump() for m in ordered]})
            self._append_audit(
                conn, tenant_id, actor, "model.register", f"model:{row['id']}", None, _version_snapshot(version)
            )
        return version, True

    def get_version(self, tenant_id: str, model_id: uuid.UUID) -> ModelVersion:
        """See :meth:`RegistryStore.get_version`."""
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            found = self._load_version(conn, tenant_id, model_id)
        if found is None:
            raise NotFoundError(f"model {model_id} not found")
        return found

    def list_versions(
        self,
        tenant_id: str,
        *,
        domain: str | None = None,
        status: ModelStatus | None = None,
        limit: int = 100,
    ) -> list[ModelVersion]:
        """See :meth:`RegistryStore.list_versions`."""
        c = t.models.c
        query = sa.select(t.models).where(c.tenant_id == tenant_id)
        if domain is not None:
            query = query.where(c.domain == domain)
        if status is not None:
            query = query.where(c.status == status.value)
        query = query.order_by(c.created_at.desc(), c.name.desc()).limit(limit)
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            rows = conn.execute(query).all()
            by_model: dict[uuid.UUID, list[Metric]] = {}
            if rows:
                metric_rows = conn.execute(
                    sa.select(t.metrics)
                    .where(t.metrics.c.tenant_id == tenant_id, t.metrics.c.model_id.in_([r.id for r in rows]))
                    .order_by(t.metrics.c.name)
                )
                for m in metric_rows:
                    by_model.setdefault(m.model_id, []).append(_metric(m))
        return [_version(r, by_model.get(r.id, [])) for r in rows]

    def transition(
        self,
        tenant_id: str,
        model_id: uuid.UUID,
        target: ModelStatus,
        actor: str,
        *,
        reason: str | None = None,
        four_eyes: bool = False,
    ) -> ModelVersion:
        """See :meth:`RegistryStore.transition`."""
        with tenant_transaction(self.engine, tenant_id) as conn:
            return self._transition(conn, tenant_id, model_id, target, actor, reason=reason, four_eyes=four_eyes)

    def _transition(
        self,
        conn: Connection,
        tenant_id: str,
        model_id: uuid.UUID,
        target: ModelStatus,
        actor: str,
        *,
        reason: str | None,
        four_eyes: bool,
        check_routes: bool = True,
    ) -> ModelVersion:
        current = self._load_version(conn, tenant_id, model_id, lock=True)
        if current is None:
            raise NotFoundError(f"model {model_id} not found")
        if four_eyes:
            requester = current.status_changed_by if current.status is ModelStatus.pending_approval else None
            if actor in {current.created_by, requester}:
                raise ForbiddenError(
                    f"four-eyes rule: {actor} registered or requested {current.name} and cannot also decide on it"
                )
        if current.status is target:
            return current
        why = transition_error(current.status, target)
        if why:
            raise ConflictError(f"model {current.name}: {why}")
        if check_routes and target is ModelStatus.retired:
            serving = self._routes_using(conn, tenant_id, model_id)
            if serving:
                raise ConflictError(
                    f"model {current.name} still serves route(s) {', '.join(serving)}: change or roll back "
                    "those routes first"
                )
        values = {"status": target.value, "status_changed_at": self._now(), "status_changed_by": actor,
                  "status_reason": reason}
        conn.execute(
            sa.update(t.models).where(t.models.c.id == model_id, t.models.c.tenant_id == tenant_id).values(**values)
        )
        after = current.model_copy(update=values | {"status": target})
        self._append_audit(
            conn, tenant_id, actor, f"model.{target.value}", f"model:{model_id}",
            _version_snapshot(current), _version_snapshot(after),
        )
        return after

    def _routes_using(
        self, conn: Connection, tenant_id: str, model_id: uuid.UUID, *, except_agent: str | None = None
    ) -> list[str]:
        r = t.routes.c
        query = sa.select(r.agent_id).where(
            r.tenant_id == tenant_id, sa.or_(r.default_model_id == model_id, r.fallback_model_id == model_id)
        )
        if except_agent is not None:
            query = query.where(r.agent_id != except_agent)
        return list(conn.execute(query.order_by(r.agent_id)).scalars())

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
        row = conn.execute(
            _route_query().where(t.routes.c.tenant_id == tenant_id, t.routes.c.agent_id == agent_id)
        ).first()
        return None if row is None else _route(row)

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
        return after

    # -- evaluations imported from outside -------------------------------------------------

    def import_evaluation(
        self, tenant_id: str, item: EvaluationImportIn, actor: str
    ) -> tuple[EvaluationImport, bool]:
        """See :meth:`RegistryStore.import_evaluation`."""
        for _attempt in range(REGISTER_ATTEMPTS):
            try:
                return self._import_once(tenant_id, item, actor)
            except sa.exc.IntegrityError:
                # A concurrent import stored one of these metrics first; the next attempt finds
                # its audit entry (same import: answered as a replay) or its metric (a conflict).
                continue
        raise ConflictError(
            f"import {item.import_id} collided with concurrent imports {REGISTER_ATTEMPTS} times; retry"
        )

    def _import_once(self, tenant_id: str, item: EvaluationImportIn, actor: str) -> tuple[EvaluationImport, bool]:
        subject = f"evaluation:{item.import_id}"
        digest = _request_hash(item)
        with tenant_transaction(self.engine, tenant_id) as conn:
            # The version's row lock comes first, so that a concurrent import of the same id
            # waits here and then sees the other's audit entry (read committed: a fresh snapshot).
            version = self._load_version(conn, tenant_id, item.model_id, lock=True)
            if version is None:
                raise NotFoundError(f"model_id {item.model_id} is not a version of this tenant")
            a = t.audit_log.c
            prior = conn.execute(
                sa.select(a.after_json)
                .where(a.tenant_id == tenant_id, a.action == "evaluation.import", a.subject == subject)
                .order_by(a.at)
                .limit(1)
            ).scalar()
            if prior is not None:
                if prior.get("request_sha256") != digest:
                    raise ConflictError(
                        f"import_id {item.import_id} was already used for another evaluation summary; "
                        "choose a new import_id"
                    )
                return EvaluationImport.model_validate(prior["import"]), False
            ordered = sorted(item.metrics, key=lambda m: m.name)
            names = [f"{item.source}/{m.name}" for m in ordered]
            taken = {m.name for m in version.metrics} & set(names)
            if taken:
                raise ConflictError(
                    f"model {version.name} already has metric(s) {', '.join(sorted(taken))}: a stored metric is "
                    "never replaced; import under another source"
                )
            rows = [
                {"model_id": version.id, "tenant_id": tenant_id, **m.model_dump(), "name": name}
                for m, name in zip(ordered, names, strict=True)
            ]
            conn.execute(sa.insert(t.metrics), rows)
            result = EvaluationImport(
                import_id=item.import_id,
                tenant_id=tenant_id,
                model_id=version.id,
                model_name=version.name,
                source=item.source,
                evaluation_run_id=item.evaluation_run_id,
                evaluated_at=item.evaluated_at,
                notes=item.notes,
                metrics=[Metric(name=r["name"], value=r["value"], ci_low=r["ci_low"], ci_high=r["ci_high"])
                         for r in rows],
                imported_at=self._now(),
                imported_by=actor,
            )
            # The audit entry is also the import's record (what a replay answers).
            self._append_audit(
                conn, tenant_id, actor, "evaluation.import", subject, None,
                {"request_sha256": digest, "import": result.model_dump(mode="json")},
            )
        return result, True

    # -- deployments -----------------------------------------------------------------------

    def set_deployment(self, tenant_id: str, item: DeploymentIn, actor: str) -> Deployment:
        """See :meth:`RegistryStore.set_deployment`."""
        d = t.deployments.c
        with tenant_transaction(self.engine, tenant_id) as conn:
            # Locking the version serializes writers of its deployments (and its status changes).
            version = self._load_version(conn, tenant_id, item.model_id, lock=True)
            if version is None:
                raise NotFoundError(f"model_id {item.model_id} is not a version of this tenant")
            if item.replica_count > 0 and version.status in (ModelStatus.retired, ModelStatus.rejected):
                raise ConflictError(
                    f"model {version.name} is {version.status.value}: it can only be scaled to replica_count 0"
                )
            where = sa.and_(d.tenant_id == tenant_id, d.model_id == item.model_id, d.environment == item.environment)
            found = conn.execute(_deployment_query().where(where)).first()
            before = None if found is None else _deployment(found)
            values = {
                "replica_count": item.replica_count,
                "autoscale_policy": {} if item.autoscale is None else item.autoscale.model_dump(mode="json"),
                "config_json": item.config,
            }
            after = Deployment(
                tenant_id=tenant_id,
                model_id=version.id,
                model_name=version.name,
                model_status=version.status,
                environment=item.environment,
                replica_count=item.replica_count,
                autoscale=item.autoscale,
                config=item.config,
            )
            if before == after:
                return after
            if before is None:
                conn.execute(
                    sa.insert(t.deployments).values(
                        tenant_id=tenant_id, model_id=item.model_id, environment=item.environment, **values
                    )
                )
            else:
                conn.execute(sa.update(t.deployments).where(where).values(**values))
            self._append_audit(
                conn, tenant_id, actor, "deployment.set", f"deployment:{item.model_id}:{item.environment}",
                None if before is None else before.model_dump(mode="json"), after.model_dump(mode="json"),
            )
        return after

    def list_deployments(
        self, tenant_id: str, *, model_id: uuid.UUID | None = None, environment: str | None = None
    ) -> list[Deployment]:
        """See :meth:`RegistryStore.list_deployments`."""
        d = t.deployments.c
        query = _deployment_query().where(d.tenant_id == tenant_id)
        if model_id is not None:
            query = query.where(d.model_id == model_id)
        if environment is not None:
            query = query.where(d.environment == environment)
        query = query.order_by(t.models.c.name, d.environment)
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            return [_deployment(row) for row in conn.execute(query)]

    # -- audit ---------------------------------------------------------------------------

    def list_audit(
        self, tenant_id: str, *, action: str | None = None, subject: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """See :meth:`RegistryStore.list_audit`."""
        c = t.audit_log.c
        query = sa.select(t.audit_log).where(c.tenant_id == tenant_id)
        if action is not None:
            query = query.where(c.action == action)
        if subject is not None:
            query = query.where(c.subject == subject)
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            rows = conn.execute(query.order_by(c.at.desc(), c.id).limit(limit)).all()
        return [_audit(r) for r in rows]
