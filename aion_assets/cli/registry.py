"""`aion rollback`: put a route's fallback version back as its default."""

from __future__ import annotations

import click


@click.command("rollback")
@click.option("--tenant", required=True, help="Tenant id.")
@click.option("--agent", required=True, help="Agent id of the route.")
@click.option("--reason", default=None, help="Why (kept in the audit log and as the retired version's reason).")
@click.option(
    "--expected-version",
    type=click.IntRange(min=1),
    default=None,
    help="Refuse unless the route is still at this version (what you looked at).",
)
@click.option("--actor", default=None, help="Who rolls back (audit log); default: cli:<login name>.")
def rollback(tenant: str, agent: str, reason: str | None, expected_version: int | None, actor: str | None) -> None:
    """Roll a route back to its fallback version; the version it leaves is retired (audited)."""
    import getpass
    import json
    import time

    from aion_assets.core.db import make_engine
    from aion_assets.core.settings import get_settings
    from aion_assets.registry.sql_store import SqlRegistryStore

    who = actor or f"cli:{getpass.getuser()}"
    engine = make_engine(get_settings().db_url, pool_size=1)
    try:
        store = SqlRegistryStore(engine)
        before = store.get_route(tenant, agent)
        started = time.perf_counter()
        after = store.rollback_route(tenant, agent, who, expected_version=expected_version, reason=reason)
        elapsed_ms = (time.perf_counter() - started) * 1000
    finally:
        engine.dispose()
    click.echo(
        json.dumps(
            {
                "route": after.model_dump(mode="json"),
                "left": {"id": str(before.default_model_id), "name": before.default_model_name},
                "elapsed_ms": round(elapsed_ms, 1),
            },
            indent=2,
        )
    )
