"""Webhook outbox of the registry: ``webhook_outbox`` and ``webhook_attempts``, tenant-scoped (RLS).

An alert or deployment trigger is written to the outbox and delivered by a drain
(``registry.webhooks.drain``) that records every attempt and retries with backoff, so a receiver
that is down delays delivery and never loses it. On PostgreSQL both tables have row-level
security like every registry table; ``aion_registry.webhook_tenants()`` (SECURITY DEFINER, owned
by the migration's role) lists only the tenant ids with pending webhooks, which is how a drain
running as the application role finds the tenants to scope its transactions to.

Revision ID: 0004_webhook_outbox
Revises: 0003_tenants_rls
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_webhook_outbox"
down_revision = "0003_tenants_rls"
branch_labels = None
depends_on = None

TABLES = ("webhook_outbox", "webhook_attempts")


def _schema() -> str | None:
    return "aion_registry" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    ts = sa.DateTime(timezone=True)
    outbox_id = f"{schema}.webhook_outbox.id" if schema else "webhook_outbox.id"
    op.create_table(
        "webhook_outbox",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("event_key", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("payload_json", json_type, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("next_attempt_at", ts, nullable=False),
        sa.Column("delivered_at", ts, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.UniqueConstraint("tenant_id", "event_key", name="uq_webhook_outbox_event"),
        sa.CheckConstraint("status IN ('pending', 'delivered')", name="ck_webhook_outbox_status"),
        schema=schema,
    )
    op.create_index("ix_webhook_outbox_due", "webhook_outbox", ["status", "next_attempt_at"], schema=schema)
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "outbox_id",
            sa.Uuid,
            sa.ForeignKey(outbox_id, ondelete="CASCADE", name="fk_webhook_attempts_outbox"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", ts, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.Float, nullable=False),
        schema=schema,
    )
    op.create_index("ix_webhook_attempts_outbox", "webhook_attempts", ["outbox_id", "attempt"], schema=schema)
    if schema:
        for table in TABLES:
            op.execute(f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {schema}.{table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {schema}.{table} "
                "USING (tenant_id = current_setting('aion.tenant_id', true)) "
                "WITH CHECK (tenant_id = current_setting('aion.tenant_id', true))"
            )
        # CURRENT_USER is resolved now: the owner running the migration (see 0003_tenants_rls).
        op.execute(f"CREATE POLICY owner_reads_all ON {schema}.webhook_outbox FOR SELECT TO CURRENT_USER USING (true)")
        # Tenant ids only, never payloads: EXECUTE stays granted to PUBLIC on purpose.
        op.execute(
            f"CREATE FUNCTION {schema}.webhook_tenants() RETURNS SETOF varchar LANGUAGE sql STABLE SECURITY DEFINER "
            "SET search_path = pg_catalog, pg_temp "
            f"AS $$ SELECT DISTINCT tenant_id FROM {schema}.webhook_outbox WHERE status = 'pending' "
            "ORDER BY tenant_id $$"
        )


def downgrade() -> None:
    schema = _schema()
    if schema:
        op.execute(f"DROP FUNCTION IF EXISTS {schema}.webhook_tenants()")
    op.drop_table("webhook_attempts", schema=schema)
    op.drop_table("webhook_outbox", schema=schema)
