"""Tenants in the memory store: the ids of those that sent data, and their settings.

Part of `MemoryStore` (``memory.store``). A tenant's row is created by its first write
(``StoreBase._tenant_writes``); its settings are changed here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from aion_assets.core.db import tenant_transaction
from aion_assets.memory import tables as t
from aion_assets.memory.models import Tenant
from aion_assets.memory.store_base import StoreBase, to_tenant


class StoreTenants(StoreBase):
    """Tenant ids and settings."""

    def list_tenant_ids(self) -> list[str]:
        """The ids of every tenant that has sent data, sorted.

        On PostgreSQL through ``aion_memory.tenant_ids()`` (migration 0003): row-level security
        hides other tenants' rows from the application role, and this SECURITY DEFINER function
        hands out ids only, never another tenant's settings.
        """
        with tenant_transaction(self.engine, None, read_only=True) as conn:
            if conn.dialect.name == "postgresql":
                return [r[0] for r in conn.execute(sa.text("SELECT aion_memory.tenant_ids()")).all()]
            return [r[0] for r in conn.execute(sa.select(t.tenants.c.tenant_id).order_by(t.tenants.c.tenant_id))]

    def list_tenants(self) -> list[Tenant]:
        """Every tenant that has sent data, with its settings (each read in its own tenant's transaction)."""
        tenants = (self.get_tenant(tenant_id) for tenant_id in self.list_tenant_ids())
        return [tenant for tenant in tenants if tenant is not None]

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        """TENANT_ID's settings, or None when the tenant never sent data (callers then use defaults).

        Read in a transaction scoped to TENANT_ID: under row-level security it sees that row only.
        """
        with tenant_transaction(self.engine, tenant_id, read_only=True) as conn:
            row = conn.execute(sa.select(t.tenants).where(t.tenants.c.tenant_id == tenant_id)).first()
        return to_tenant(row) if row is not None else None

    def configure_tenant(
        self,
        tenant_id: str,
        *,
        retention_days: int | None = None,
        adaptation_opt_out: bool | None = None,
        config: dict[str, Any] | None = None,
    ) -> Tenant:
        """Create or update TENANT_ID's settings; arguments left None keep their stored value.

        CONFIG replaces the stored config object as a whole (validate it first with
        ``aion_assets.seal.datasets.tenant_config.validate_tenant_config``). On PostgreSQL only
        the schema owner may change settings (``aion tenant`` connects with AION_DATABASE_ADMIN_URL):
        the application role has no UPDATE on ``tenants``.
        """
        if retention_days is not None and retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        values: dict[str, Any] = {}
        if retention_days is not None:
            values["retention_days"] = retention_days
        if adaptation_opt_out is not None:
            values["adaptation_opt_out"] = adaptation_opt_out
        if config is not None:
            values["config"] = config
        with self._tenant_writes(tenant_id) as conn:
            if values:
                conn.execute(sa.update(t.tenants).where(t.tenants.c.tenant_id == tenant_id).values(**values))
            row = conn.execute(sa.select(t.tenants).where(t.tenants.c.tenant_id == tenant_id)).one()
        return to_tenant(row)
