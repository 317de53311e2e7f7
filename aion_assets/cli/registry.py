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
    """Roll a route back to its fallback version; the version it leaves is retired (audited).

    With AION_DEPLOY_WEBHOOK_URL set, the deployment trigger of the new route version is queued
    in the webhook outbox in the rollback's transaction, then tried once; a receiver that is down
    gets it later from the webhook outbox sensor (the output says which happened).
    """
    import getpass
    import json
    import time

    from aion_assets.core.db import make_engine
    from aion_assets.core.settings import get_settings
    from aion_assets.registry.sql_store import SqlRegistryStore
    from aion_assets.registry.webhooks import WebhookOutbox, deploy_event_key

    settings = get_settings()
    who = actor or f"cli:{getpass.getuser()}"
    url = settings.deploy_webhook_url
    engine = make_engine(settings.db_url, pool_size=1)
    trigger: dict[str, object] | None = None
    try:
        store = SqlRegistryStore(engine)
        before = store.get_route(tenant, agent)
        started = time.perf_counter()
        after = store.rollback_route(
            tenant, agent, who, expected_version=expected_version, reason=reason, deploy_webhook_url=url
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        if url is not None:
            secret = settings.webhook_secret.get_secret_value().encode() if settings.webhook_secret else None
            outbox = WebhookOutbox(engine, secret=secret, timeout=5.0)
            # The route has changed already (committed); delivery problems only delay the trigger.
            outbox.drain(tenant)
            key = deploy_event_key(after)
            entry = next((e for e in outbox.entries(tenant, kind="deployment") if e.event_key == key), None)
            trigger = {
                "event_key": key,
                "status": entry.status if entry is not None else "missing",
                "last_error": entry.last_error if entry is not None else None,
            }
    finally:
        engine.dispose()
    click.echo(
        json.dumps(
            {
                "route": after.model_dump(mode="json"),
                "left": {"id": str(before.default_model_id), "name": before.default_model_name},
                "elapsed_ms": round(elapsed_ms, 1),
                "deploy_trigger": trigger,
            },
            indent=2,
        )
    )
