"""Route changes announced on a PostgreSQL channel: ``aion_registry_routes``.

A trigger on ``aion_registry.routes`` sends ``NOTIFY aion_registry_routes, '<tenant>/<agent>'``
for every inserted, updated or deleted route, in the writing transaction (PostgreSQL delivers it
at commit, never for a rolled-back write). Whoever writes (the API, the CLI, the route_table
asset, the regression sensor, an operator's SQL) is covered. The API's per-worker route read
cache (``aion_assets.registry.route_reads``) listens on the channel and forgets the named route.
The payload carries ids only (tenant and agent), never model names, URIs or policies.
SQLite has no channel: nothing changes there (the cache is PostgreSQL only).

Revision ID: 0006_route_notify
Revises: 0005_scrub_detections
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0006_route_notify"
down_revision = "0005_scrub_detections"
branch_labels = None
depends_on = None

CHANNEL = "aion_registry_routes"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION aion_registry.notify_route_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            changed aion_registry.routes%ROWTYPE;
        BEGIN
            IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
            PERFORM pg_notify('{CHANNEL}', changed.tenant_id || '/' || changed.agent_id);
            IF TG_OP = 'UPDATE' AND (OLD.tenant_id, OLD.agent_id) IS DISTINCT FROM (NEW.tenant_id, NEW.agent_id) THEN
                PERFORM pg_notify('{CHANNEL}', OLD.tenant_id || '/' || OLD.agent_id);
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER routes_notify AFTER INSERT OR UPDATE OR DELETE ON aion_registry.routes "
        "FOR EACH ROW EXECUTE FUNCTION aion_registry.notify_route_change()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS routes_notify ON aion_registry.routes")
    op.execute("DROP FUNCTION IF EXISTS aion_registry.notify_route_change()")
