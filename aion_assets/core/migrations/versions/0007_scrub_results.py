"""Stored scrub results: ``scrub_results``, tenant-scoped (RLS), keyed by text hash, scrubber version and policy.

Applying a tenant's policy to a text's stored detections (``scrub_detections``) still costs the
policy step twice per text (the text and the re-scan of its output): most of a warm export. Its
result depends only on the text, the scrubber version and the policy, so it is stored too
(``aion_assets.memory.scrub_results``): the final spans (offsets and entity types, never a value).
A warm export reads them, one query per batch, and renders the placeholders; a changed policy
(a list, the learned vocabulary) or scrubber version finds no rows and computes them once.

On PostgreSQL the table has row-level security like every memory table; the application role gets
it through the schema-wide grants of ``provision_app_role`` (run again by ``aion db upgrade``).

Revision ID: 0007_scrub_results
Revises: 0006_route_notify
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_scrub_results"
down_revision = "0006_route_notify"
branch_labels = None
depends_on = None

TABLE = "scrub_results"


def _schema() -> str | None:
    return "aion_memory" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("scrubber_version", sa.String(128), nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        # Compact JSON text, not JSONB: read back whole and parsed in Python, never queried inside.
        sa.Column("spans", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        # The text's hash leads, as in scrub_detections (0005): one index descent per looked-up key.
        sa.PrimaryKeyConstraint("text_sha256", "tenant_id", "scrubber_version", "policy_sha256",
                                name="pk_scrub_results"),
        schema=schema,
    )
    if schema:
        op.execute(f"ALTER TABLE {schema}.{TABLE} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {schema}.{TABLE} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {schema}.{TABLE} "
            "USING (tenant_id = current_setting('aion.tenant_id', true)) "
            "WITH CHECK (tenant_id = current_setting('aion.tenant_id', true))"
        )


def downgrade() -> None:
    op.drop_table(TABLE, schema=_schema())
