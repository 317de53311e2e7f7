"""Row-level security on PostgreSQL, probed with raw SQL as the application role: a session
with tenant A set sees and writes nothing of tenant B, a session with no tenant sees nothing,
and a pooled connection never carries one transaction's tenant into the next."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from aion_assets.core.db import make_engine, tenant_transaction
from aion_assets.memory.models import InteractionIn, SelfEditIn
from aion_assets.memory.store import MemoryStore

pytestmark = pytest.mark.postgres


@pytest.fixture
def seeded(pg_database):  # type: ignore[no-untyped-def]
    engine = make_engine(pg_database.url, pool_size=1)
    store = MemoryStore(engine)
    a, b = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    for tenant in (a, b):
        rows, _ = store.add_interactions(tenant, [InteractionIn(agent_id="bot", input_text="q", output_text="o")])
        store.add_self_edit(
            tenant, SelfEditIn(interaction_id=rows[0].id, editor_type="human", edited_output="e", reward_score=1)
        )
        store.add_evaluations(tenant, [])
    yield engine, a, b
    engine.dispose()


def count(conn: sa.Connection, table: str, where: str = "") -> int:
    return int(conn.execute(sa.text(f"SELECT count(*) FROM aion_memory.{table} {where}")).scalar_one())


def test_app_role_is_not_privileged(pg_database) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(pg_database.url, pool_size=1)
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        ).one()
        forced = conn.execute(
            sa.text(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'aion_memory' "
                "AND relname IN ('interactions', 'self_edits', 'evaluations')"
            )
        ).all()
    assert tuple(row) == (False, False)
    assert len(forced) == 3 and all(r.relrowsecurity and r.relforcerowsecurity for r in forced)


def test_tenant_sees_only_its_rows(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, a, b = seeded
    for table in ("interactions", "self_edits"):
        with tenant_transaction(engine, a) as conn:
            assert count(conn, table, f"WHERE tenant_id = '{b}'") == 0
            assert count(conn, table, f"WHERE tenant_id = '{a}'") == 1
            assert count(conn, table) == count(conn, table, f"WHERE tenant_id = '{a}'")


def test_no_tenant_sees_nothing(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, _a, _b = seeded
    with engine.connect() as conn:
        assert count(conn, "interactions") == 0 and count(conn, "self_edits") == 0


def test_tenant_cannot_write_or_change_other_tenants_rows(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, a, b = seeded
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), tenant_transaction(engine, a) as conn:
        conn.execute(
            sa.text(
                "INSERT INTO aion_memory.interactions (id, tenant_id, agent_id, input_text, output_text, "
                "timestamp, metadata) VALUES (:id, :t, 'bot', 'q', 'o', now(), '{}')"
            ),
            {"id": uuid.uuid4(), "t": b},
        )
    with tenant_transaction(engine, a) as conn:
        assert conn.execute(sa.text(f"UPDATE aion_memory.interactions SET output_text='x' WHERE tenant_id='{b}'")
                            ).rowcount == 0
        assert conn.execute(sa.text(f"DELETE FROM aion_memory.self_edits WHERE tenant_id='{b}'")).rowcount == 0
    with tenant_transaction(engine, b) as conn:
        assert count(conn, "interactions") == 1 and count(conn, "self_edits") == 1


def test_tenant_setting_does_not_leak_through_the_pool(seeded) -> None:  # type: ignore[no-untyped-def]
    engine, a, _b = seeded  # pool_size=1: every transaction reuses the same connection
    with tenant_transaction(engine, a) as conn:
        assert count(conn, "interactions") == 1
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() == pid
        assert count(conn, "interactions") == 0
        assert conn.execute(sa.text("SELECT current_setting('aion.tenant_id', true)")).scalar() in (None, "")


def test_app_role_cannot_alter_schema_or_migrations(pg_database) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(pg_database.url, pool_size=1)
    with pytest.raises(sa.exc.ProgrammingError), engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE aion_memory.interactions DISABLE ROW LEVEL SECURITY"))
    with pytest.raises(sa.exc.ProgrammingError), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM aion_memory.alembic_version"))
