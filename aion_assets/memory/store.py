"""The memory store: interactions, self-edits and evaluations, on SQLite or PostgreSQL.

Every method takes the caller's tenant and runs in one transaction scoped to it
(``tenant_transaction``), so on PostgreSQL row-level security applies on top of the
explicit ``tenant_id`` filters used here (the only guard on SQLite). Writes are
all-or-nothing and idempotent by id.
"""

from __future__ import annotations

from aion_assets.memory.store_reads import StoreReads
from aion_assets.memory.store_tenants import StoreTenants
from aion_assets.memory.store_writes import StoreWrites


class MemoryStore(StoreWrites, StoreReads, StoreTenants):
    """Tenant-scoped access to the memory tables.

    The methods live by topic: ``store_writes`` (add_interactions, add_self_edit,
    review_self_edit, add_evaluations), ``store_reads`` (get_interaction, get_self_edit,
    list_self_edits, iter_approved_edits, list_evaluations, served_quality, counts) and
    ``store_tenants`` (list_tenant_ids, list_tenants, get_tenant, configure_tenant); the engine
    and the tenant-row cache are in ``store_base``.

    Args:
        engine: a SQLAlchemy engine from ``aion_assets.core.db.make_engine``, connected as
            the application role.
    """


__all__ = ["MemoryStore"]
