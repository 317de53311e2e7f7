"""Versions and their status, the part of the SQL registry store (``registry.sql_store``) that
registers, reads, lists and moves versions along their transitions."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aion_assets.core.auth import ForbiddenError
from aion_assets.core.db import tenant_transaction
from aion_assets.core.errors import ConflictError, NotFoundError
from aion_assets.registry import tables as t
from aion_assets.registry.models import Metric, ModelStatus, ModelVersion, ModelVersionIn, transition_error
from aion_assets.registry.naming import family_name, next_version_name
from aion_assets.registry.rows import (  # the mappers are private to the sql_* modules of the store
    _metric,
    _version,
    _version_snapshot,
)
from aion_assets.registry.sql_base import SqlStoreBase
from aion_assets.registry.store import REGISTER_ATTEMPTS


class SqlVersions(SqlStoreBase):
    """Versions of the SQL registry store; see ``registry.store.RegistryStore`` for each contract."""

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
