"""`aion demo`: the main job on the embedded default, end to end.

It creates the embedded database, serves the API on a free loopback port, ingests a sample
of multi-tenant traffic and self-edits through the HTTP client (the same path a gateway
uses; ``aion_assets.demo.ingest``), lets a scripted reviewer decide the edits through the
console's client, prints what was stored, then starts Dagster's daemon on the embedded instance
and waits while its sensors run the graph for every demo tenant (``aion_assets.demo.loop``): no
step of the graph is called from here. Re-running it is safe: the sample has fixed ids, so the
second run stores nothing new, finds no new approvals and runs nothing.
"""

from __future__ import annotations

import signal
import sys

import click

from aion_assets.core.settings import get_settings


@click.command()
@click.option("--ingest-only", is_flag=True, help="Stop after ingestion and review (start no daemon).")
@click.option(
    "--timeout-minutes", type=click.FloatRange(min=1), default=60.0, show_default=True,
    help="Give up waiting for the daemon's runs after this long.",
)
def demo(ingest_only: bool, timeout_minutes: float) -> None:
    """Run the main job on the embedded default (SQLite, local artifacts, Dagster's daemon and sensors)."""
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
    from aion_assets.core.errors import AionError
    from aion_assets.demo.ingest import DEMO_DOMAINS
    from aion_assets.demo.loop import print_results, run_demo_loop

    # SIGTERM (a supervisor, `kill`) unwinds like Ctrl-C, so the daemon and its runs are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        results = run_demo_loop(settings, DEMO_DOMAINS, echo=click.echo, timeout_s=timeout_minutes * 60)
    except (AionError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    for partition, out in results.items():
        print_results(partition, out, echo=click.echo)
    click.echo(
        "\nnext: `aion ui` opens the Dagster UI (runs, lineage, the asset graph) and the reviewer console "
        "(pending edits, promotions, routes and rollback)"
    )
    failed = [p for p, out in results.items() if out["failed"]]
    if failed:
        raise click.ClickException(f"{', '.join(failed)} did not reach a decision; see the messages above")
