"""Row-level security on ``tenants`` (finding 13) and the narrow listing path of the pipeline.

Before this revision any tenant's application-role transaction could read every tenant's
settings and update them (switching off another tenant's scrubbing). Now, on PostgreSQL:

- ``tenants`` has RLS like every tenant table (FORCEd: the owner is under it too): a transaction
  sees and writes only the row of the tenant it is scoped to (``aion.tenant_id``);
- the owner (the role running this migration: ``aion db upgrade``, ``aion tenant``) may also
  *read* every row (policy ``owner_reads_all``), which the listing function below relies on;
- ``aion_memory.tenant_ids()``, a SECURITY DEFINER function owned by the owner, returns tenant
  ids only: how the pipeline lists tenants as the application role (settings are then read one
  tenant at a time, each in a transaction scoped to it). EXECUTE is revoked from PUBLIC;
  ``provision_app_role`` grants it to the application role and leaves that role only SELECT and
  INSERT on ``tenants`` (the store inserts its own row with ON CONFLICT DO NOTHING).

SQLite has no roles and no RLS: nothing changes there.

Revision ID: 0003_tenants_rls
Revises: 0002_registry
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0003_tenants_rls"
down_revision = "0002_registry"
branch_labels = None
depends_on = None

TABLE = "aion_memory.tenants"
LIST_FUNCTION = "aion_memory.tenant_ids()"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {TABLE} "
        "USING (tenant_id = current_setting('aion.tenant_id', true)) "
        "WITH CHECK (tenant_id = current_setting('aion.tenant_id', true))"
    )
    # CURRENT_USER is resolved now: the owner running the migration, never the application role.
    op.execute(f"CREATE POLICY owner_reads_all ON {TABLE} FOR SELECT TO CURRENT_USER USING (true)")
    op.execute(
        f"CREATE FUNCTION {LIST_FUNCTION} RETURNS SETOF varchar LANGUAGE sql STABLE SECURITY DEFINER "
        "SET search_path = pg_catalog, pg_temp "
        f"AS $$ SELECT tenant_id FROM {TABLE} ORDER BY tenant_id $$"
    )
    op.execute(f"REVOKE ALL ON FUNCTION {LIST_FUNCTION} FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP FUNCTION IF EXISTS {LIST_FUNCTION}")
    op.execute(f"DROP POLICY IF EXISTS owner_reads_all ON {TABLE}")
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {TABLE}")
    op.execute(f"ALTER TABLE {TABLE} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {TABLE} DISABLE ROW LEVEL SECURITY")
