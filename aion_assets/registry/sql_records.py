"""Evaluation imports, deployments and the audit log: the records the SQL registry store
(``registry.sql_store``) keeps about versions."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

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
)
from aion_assets.registry.rows import (  # the mappers are private to the sql_* modules of the store
    _audit,
    _deployment,
    _deployment_query,
    _request_hash,
)
from aion_assets.registry.sql_base import SqlStoreBase
from aion_assets.registry.store import REGISTER_ATTEMPTS


class SqlRecords(SqlStoreBase):
    """Evaluation imports, deployments and audit reads of the SQL registry store (contracts in ``registry.store``)."""

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
