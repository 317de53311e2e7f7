"""Pipeline commands of the `aion` CLI: ``aion ui`` and ``aion archive run|restore``.

``COMMANDS`` is what ``aion_assets.cli`` adds to its group. Heavy imports happen inside the
commands, so ``aion --help`` stays fast.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from typing import Any

import click

DAGSTER_MODULE = "aion_assets.definitions"

from aion_assets.runs import dagster_env, ensure_gpu_pool  # noqa: E402


def _artifacts(settings: Any) -> Any:
    from aion_assets.core.artifacts import artifact_store_from_uri

    return artifact_store_from_uri(
        settings.artifacts,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        sse_kms_key_id=settings.s3_sse_kms_key_id,
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface the Dagster UI binds.")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="Dagster UI port.")
def ui(host: str, port: int) -> None:
    """Start the Dagster UI and daemon (`dagster dev`) on the AION code location."""
    from aion_assets.core.settings import get_settings

    env = dagster_env(get_settings())
    ensure_gpu_pool(env["DAGSTER_HOME"])
    click.echo(f"Dagster UI on http://{host}:{port} (DAGSTER_HOME={env['DAGSTER_HOME']})", err=True)
    cmd = [sys.executable, "-m", "dagster", "dev", "-m", DAGSTER_MODULE, "-h", host, "-p", str(port)]
    try:
        code = subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        code = 130
    if code:
        sys.exit(code)


@click.group()
def archive() -> None:
    """Retention archives of old interactions (in the artifact store)."""


@archive.command("run")
@click.option("--now", "now", default=None, help="Reference time (ISO 8601) for the cutoff; default: now.")
def archive_run(now: str | None) -> None:
    """Archive, verify and delete every tenant's interactions older than its retention_days."""
    from aion_assets.core.db import make_engine
    from aion_assets.core.settings import get_settings
    from aion_assets.memory.retention import run_retention
    from aion_assets.memory.store import MemoryStore

    settings = get_settings()
    try:
        ref = datetime.fromisoformat(now) if now else datetime.now(UTC)
    except ValueError as exc:
        raise click.BadParameter("use ISO 8601, e.g. 2026-01-31T00:00:00+00:00", param_hint="--now") from exc
    engine = make_engine(settings.db_url, pool_size=1)
    try:
        results = run_retention(engine, _artifacts(settings), MemoryStore(engine).list_tenants(), now=ref)
    finally:
        engine.dispose()
    for tenant, items in results.items():
        rows = sum(r.manifest.rows for r in items)
        click.echo(f"{tenant}: {len(items)} archive(s), {rows} interaction(s) archived and removed")


@archive.command("restore")
@click.option("--tenant", required=True, help="Tenant whose archive to restore.")
@click.option(
    "--date", "day", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Day of the interactions (UTC)."
)
def archive_restore(tenant: str, day: datetime) -> None:
    """Insert a day's archived interactions (and their edits) back; rows already present are skipped."""
    from aion_assets.core.db import make_engine
    from aion_assets.core.settings import get_settings
    from aion_assets.memory.retention import restore_day

    settings = get_settings()
    engine = make_engine(settings.db_url, pool_size=1)
    try:
        result = restore_day(engine, _artifacts(settings), tenant, date(day.year, day.month, day.day))
    finally:
        engine.dispose()
    click.echo(
        f"restored {result.interactions} interaction(s) and {result.edits} edit(s) from {result.archives} "
        f"archive(s); {result.skipped} already present"
    )


COMMANDS: list[click.Command] = [ui, archive]
