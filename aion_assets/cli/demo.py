"""`aion demo`: the main job on the embedded default, end to end.

It creates the embedded database, serves the API on a free loopback port, ingests a sample
of multi-tenant traffic and self-edits through the HTTP client (the same path a gateway
uses), reviews them as a human would, and prints what was stored. Re-running it is safe:
the sample has fixed ids, so the second run stores nothing new.
"""

from __future__ import annotations

import time
from typing import Any

import click

from aion_assets.core.settings import Settings, get_settings

DEMO_DOMAINS = ("acme/support", "globex/billing")


def configure_demo_tenant(store: Any, domain: Any) -> None:
    """Give a demo tenant what a real one configures: its agent's domain and system prompt, and
    its product catalogue on the scrub allow-list (Presidio takes invented product names and the
    "Acme Support" greeting for persons otherwise)."""
    from aion_assets.seal.datasets.tenant_config import validate_tenant_config

    spec = domain.spec
    config = validate_tenant_config(
        spec.tenant_id,
        {
            "agents": {spec.agent_id: {"domain": spec.domain, "system_prompt": spec.system_prompt}},
            "scrub": {"allow_list": domain.scrub_allow_list()},
            "curation": {"min_reward": 0.5},
        },
    )
    store.configure_tenant(spec.tenant_id, config=config)


def ingest_sample(
    settings: Settings, *, domains: tuple[str, ...] = DEMO_DOMAINS, echo: Any = click.echo
) -> dict[str, Any]:
    """Serve the API in-process and push the demo domains' traffic and reviews through it.

    Returns:
        Per tenant: the store's counts after ingestion, and the wall time.
    """
    from aion_assets.app import app_from_settings
    from aion_assets.core.auth import mint_token
    from aion_assets.core.serve import serve_in_thread
    from aion_assets.demo.domains import generate_domain
    from aion_assets.memory.client import MemoryClient
    from aion_assets.memory.store import MemoryStore

    secret = settings.jwt_signing_secret()
    summary: dict[str, Any] = {}
    app = app_from_settings(settings)
    started = time.perf_counter()
    with serve_in_thread(app) as base:
        echo(f"API serving on {base} (OpenAPI at {base}/docs)")
        for name in domains:
            domain = generate_domain(name)
            tenant = domain.spec.tenant_id
            configure_demo_tenant(MemoryStore(app.state.engine), domain)
            token = mint_token(
                secret, tenant_id=tenant, roles=["writer", "reviewer"], subject=f"demo-reviewer@{tenant}"
            )
            with MemoryClient(base, token) as client:
                interactions = domain.interactions()
                for start in range(0, len(interactions), 100):
                    client.add_interactions(
                        [{k: v for k, v in row.items() if k != "tenant_id"} for row in interactions[start:start + 100]]
                    )
                for edit in domain.self_edits():
                    decision = edit["status"]
                    body = {k: edit[k] for k in ("id", "interaction_id", "editor_type", "original_output",
                                                 "edited_output", "reason_code", "reward_score", "timestamp",
                                                 "metadata")}
                    stored = client.add_self_edit(body)
                    if decision in ("approved", "rejected") and stored.status.value == "pending":
                        client.review(stored.id, decision)
            summary[tenant] = MemoryStore(app.state.engine).counts(tenant) | {"domain": name}
    summary["_seconds"] = time.perf_counter() - started
    return summary


@click.command()
@click.option("--ingest-only", is_flag=True, help="Stop after ingestion (skip the SEAL pipeline).")
def demo(ingest_only: bool) -> None:
    """Run the main job on the embedded default (SQLite, local artifacts, in-process Dagster)."""
    from aion_assets.core.migrate import upgrade

    settings = get_settings()
    home = settings.resolved_home
    home.mkdir(parents=True, exist_ok=True)
    click.echo(f"AION_HOME={home}")
    click.echo(f"database: {settings.db_url}")
    revision = upgrade(settings.db_admin_url, settings.db_url if settings.database_url else None)
    click.echo(f"schema at revision {revision}")

    summary = ingest_sample(settings)
    click.echo(f"\ningested the sample through the HTTP API in {summary.pop('_seconds'):.1f} s:")
    click.echo(f"{'tenant':<10} {'domain':<16} {'interactions':>12} {'pending':>8} {'approved':>9} {'rejected':>9}")
    for tenant, counts in summary.items():
        edits = counts["edits"]
        click.echo(
            f"{tenant:<10} {counts['domain']:<16} {counts['interactions']:>12} {edits['pending']:>8} "
            f"{edits['approved']:>9} {edits['rejected']:>9}"
        )
    if ingest_only:
        return
    from aion_assets.cli.seal import run_demo_pipeline

    results = run_demo_pipeline(settings, echo=click.echo)
    if not all(r["success"] for r in results.values()):
        raise click.ClickException("the SEAL loop failed; see the messages above")
