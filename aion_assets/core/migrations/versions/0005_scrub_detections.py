"""Stored scrubber analyses: ``scrub_detections``, tenant-scoped (RLS), keyed by text hash and scrubber version.

The scrubber's analysis of a text (NER and recognizers: offsets, entity types, scores, recognizer
names; never a value) depends only on the text and the scrubber's version, so it is stored once
(``aion_assets.memory.detections``) and a dataset build or an export applies the tenant's policy to
it instead of running the NER over the whole history again. A new scrubber version has no rows
yet: its texts are analysed again (a backfill) and the old version's rows can be deleted.

On PostgreSQL the table has row-level security like every memory table; the application role gets
it through the schema-wide grants of ``provision_app_role`` (run again by ``aion db upgrade``).

Revision ID: 0005_scrub_detections
Revises: 0004_webhook_outbox
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_scrub_detections"
down_revision = "0004_webhook_outbox"
branch_labels = None
depends_on = None

TABLE = "scrub_detections"


def _schema() -> str | None:
    return "aion_memory" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("scrubber_version", sa.String(128), nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("detections", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=False),
        # The text's hash leads: a batch's lookup is `text_sha256 = ANY(...)`, one index descent per key
        # (with the tenant first, or beside an index on (tenant, version), PostgreSQL's planner filtered
        # every row of the tenant's version on each lookup: quadratic in the history). No other index:
        # counting and deleting a version's rows are rare operator tasks.
        sa.PrimaryKeyConstraint("text_sha256", "tenant_id", "scrubber_version", name="pk_scrub_detections"),
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
