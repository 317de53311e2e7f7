"""Protects: ``tenants`` is under row-level security like every tenant table (finding 13, migration 0003).

Probed with raw SQL as the application role on PostgreSQL: tenant A's transaction reads only A's
settings row, cannot read, update or insert B's, and cannot change even its own settings (no
UPDATE for the application role); a transaction with no tenant sees no row. The pipeline lists
tenants through ``aion_memory.tenant_ids()`` (ids only), then reads each tenant's settings in that
tenant's own transaction; settings change only through the owner (``aion tenant``'s path).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from aion_assets.core.db import make_engine, tenant_transaction
from aion_assets.memory.models import InteractionIn
from aion_assets.memory.store import MemoryStore
from tests.conftest import Database

pytestmark = pytest.mark.postgres


@pytest.fixture
def two_tenants(pg_database: Database) -> Iterator[tuple[sa.Engine, MemoryStore, str, str]]:
    engine = make_engine(pg_database.url, pool_size=1)
    owner = make_engine(pg_database.admin_url, pool_size=1)
    store = MemoryStore(engine)
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    for tenant in (a, b):
        store.add_interactions(tenant, [InteractionIn(agent_id="bot", input_text="q", output_text="o")])
    # B's scrubbing configured by its operator, through the owner.
    MemoryStore(owner).configure_tenant(b, config={"scrub": {"allow_list": ["Quorvex"]}}, retention_days=30)
    yield engine, store, a, b
    engine.dispose()
    owner.dispose()


def _rows(conn: sa.Connection, where: str = "") -> list[str]:
    return [r[0] for r in conn.execute(sa.text(f"SELECT tenant_id FROM aion_memory.tenants {where}"))]


def test_tenant_reads_only_its_own_row(two_tenants: tuple[sa.Engine, MemoryStore, str, str]) -> None:
    engine, _store, a, b = two_tenants
    with tenant_transaction(engine, a) as conn:
        assert _rows(conn) == [a]
        assert _rows(conn, f"WHERE tenant_id = '{b}'") == []
        assert conn.execute(sa.text("SELECT config::text FROM aion_memory.tenants")).scalar_one() == "{}"
    with engine.connect() as conn:  # no tenant set
        assert _rows(conn) == []


def test_tenant_cannot_change_settings_nor_write_another_tenants_row(
    two_tenants: tuple[sa.Engine, MemoryStore, str, str],
) -> None:
    engine, store, a, b = two_tenants
    # Switching off another tenant's scrubbing (finding 13) is refused, and so is changing its own settings.
    for target in (b, a):
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), tenant_transaction(engine, a) as conn:
            conn.execute(
                sa.text("UPDATE aion_memory.tenants SET config = '{}', adaptation_opt_out = true WHERE tenant_id = :t"),
                {"t": target},
            )
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), tenant_transaction(engine, a) as conn:
        conn.execute(sa.text("DELETE FROM aion_memory.tenants WHERE tenant_id = :t"), {"t": b})
    new = f"c-{uuid.uuid4().hex[:8]}"
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), tenant_transaction(engine, a) as conn:
        conn.execute(
            sa.text("INSERT INTO aion_memory.tenants (tenant_id, config, created_at) VALUES (:t, '{}', now())"),
            {"t": new},
        )
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):  # the store's path, as the app role
        store.configure_tenant(a, adaptation_opt_out=True)
    settings = store.get_tenant(b)
    assert settings is not None and settings.config == {"scrub": {"allow_list": ["Quorvex"]}}
    assert settings.retention_days == 30 and not settings.adaptation_opt_out
    assert store.get_tenant(new) is None


def test_pipeline_lists_tenant_ids_through_the_narrow_path(
    two_tenants: tuple[sa.Engine, MemoryStore, str, str],
) -> None:
    engine, store, a, b = two_tenants
    ids = store.list_tenant_ids()
    assert {a, b} <= set(ids) and ids == sorted(ids)
    # The function hands out ids only: one text column.
    with engine.connect() as conn:
        result = conn.execute(sa.text("SELECT * FROM aion_memory.tenant_ids()"))
        assert len(result.keys()) == 1
        assert {a, b} <= {r[0] for r in result}
    tenants = {t.tenant_id: t for t in store.list_tenants()}
    assert tenants[b].config == {"scrub": {"allow_list": ["Quorvex"]}} and tenants[a].config == {}
    # A new tenant's first write inserts its row (INSERT ... ON CONFLICT DO NOTHING), twice is harmless.
    c = f"c-{uuid.uuid4().hex[:8]}"
    store.add_interactions(c, [InteractionIn(agent_id="bot", input_text="q", output_text="o")])
    MemoryStore(engine).add_interactions(c, [InteractionIn(agent_id="bot", input_text="q", output_text="o")])
    assert c in store.list_tenant_ids()


def test_function_and_grants_are_narrow(pg_database: Database) -> None:
    engine = make_engine(pg_database.url, pool_size=1)
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT c.relrowsecurity, c.relforcerowsecurity, "
                "has_table_privilege(current_user, 'aion_memory.tenants', 'UPDATE'), "
                "has_table_privilege(current_user, 'aion_memory.tenants', 'DELETE'), "
                "has_table_privilege(current_user, 'aion_memory.tenants', 'INSERT'), "
                "has_function_privilege('public', 'aion_memory.tenant_ids()', 'EXECUTE') "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'aion_memory' AND c.relname = 'tenants'"
            )
        ).one()
    assert tuple(row) == (True, True, False, False, True, False)
    engine.dispose()
