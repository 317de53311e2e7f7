"""`aion demo`: the main job on the embedded default, end to end.

It creates the embedded database, serves the API on a free loopback port, ingests a sample
of multi-tenant traffic and self-edits through the HTTP client (the same path a gateway
uses; ``aion_assets.demo.ingest``), reviews them as a human would, prints what was stored, and
runs the SEAL loop. Re-running it is safe: the sample has fixed ids, so the second run stores
nothing new.
"""

from __future__ import annotations

import click

from aion_assets.core.settings import get_settings


@click.command()
@click.option("--ingest-only", is_flag=True, help="Stop after ingestion (skip the SEAL pipeline).")
def demo(ingest_only: bool) -> None:
    """Run the main job on the embedded default (SQLite, local artifacts, in-process Dagster)."""
    from aion_assets.core.migrate import upgrade
    from aion_assets.demo.ingest import ingest_sample

    settings = get_settings()
    home = settings.resolved_home
    from aion_assets.core.files import make_private_dir

    make_private_dir(home)  # 0700: the embedded default keeps PII here
    click.echo(f"AION_HOME={home}")
    click.echo(f"database: {settings.db_url_display}")
    revision = upgrade(settings.db_admin_url, settings.db_url if settings.database_url else None)
    click.echo(f"schema at revision {revision}")

    summary = ingest_sample(settings, echo=click.echo)
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
