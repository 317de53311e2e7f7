"""Pipeline commands of the `aion` CLI: ``aion ui`` and ``aion archive run|restore``.

``COMMANDS`` is what ``aion_assets.cli`` adds to its group. Heavy imports happen inside the
commands, so ``aion --help`` stays fast.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
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
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface the Dagster UI and the reviewer console bind."
)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="Dagster UI port.")
@click.option(
    "--console-port", default=8501, show_default=True, type=click.IntRange(1, 65535), help="Reviewer console port."
)
@click.option("--api-url", default=None, help="API the console calls; default: AION_API_URL (http://127.0.0.1:8080).")
def ui(host: str, port: int, console_port: int, api_url: str | None) -> None:
    """Start the Dagster UI and daemon (`dagster dev`) and, beside it, the reviewer console (Streamlit).

    When either stops, the other is stopped too and the command exits with its status.
    """
    from aion_assets.core.settings import get_settings
    from review_app.launch import streamlit_command

    settings = get_settings()
    env = dagster_env(settings)
    ensure_gpu_pool(env["DAGSTER_HOME"])
    console_env = {**env, "AION_API_URL": api_url or settings.api_url}
    click.echo(f"Dagster UI:       http://{host}:{port} (DAGSTER_HOME={env['DAGSTER_HOME']})")
    click.echo(f"Reviewer console: http://{host}:{console_port} (calls the API at {console_env['AION_API_URL']})")
    dagster = [sys.executable, "-m", "dagster", "dev", "-m", DAGSTER_MODULE, "-h", host, "-p", str(port)]
    procs = [
        subprocess.Popen(dagster, env=env),
        subprocess.Popen(streamlit_command(host, console_port), env=console_env),
    ]
    code = _supervise(procs)
    if code:
        sys.exit(code)


def _supervise(procs: list[subprocess.Popen[bytes]]) -> int:
    """Wait until one of PROCS exits, or Ctrl-C / SIGTERM; stop the others; return the exit status.

    SIGINT and SIGTERM are handled here, whatever this process inherited: a shell or supervisor that
    started it with SIGINT ignored would otherwise leave Ctrl-C without effect, and SIGTERM would end
    this process and leave both servers running. The status is 128 + the signal (130 for Ctrl-C).
    """
    received: list[int] = []

    def _stop(signum: int, _frame: object) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        while not received:
            done = [p for p in procs if p.poll() is not None]
            if done:
                code = done[0].returncode
                break
            time.sleep(0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        code = 128 + received[0]
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    # One deadline for all of them (they stop in parallel): Ctrl-C takes at most ~25 s, not 25 s each.
    deadline = time.monotonic() + 20
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    for proc in procs:
        proc.wait(timeout=5)
    return code


@click.group()
def archive() -> None:
    """Retention archives of old interactions (in the artifact store)."""


@archive.command("run")
@click.option("--now", "now", default=None, help="Reference time (ISO 8601) for the cutoff; default: now.")
def archive_run(now: str | None) -> None:
    """Archive, verify and delete every tenant's interactions older than its retention_days.

    A tenant that fails is reported and skipped; the command then exits with status 1.
    """
    from aion_assets.core.db import make_engine
    from aion_assets.core.settings import get_settings
    from aion_assets.memory.archive_format import archive_keys_from_settings
    from aion_assets.memory.retention import run_retention
    from aion_assets.memory.store import MemoryStore

    settings = get_settings()
    try:
        ref = datetime.fromisoformat(now) if now else datetime.now(UTC)
    except ValueError as exc:
        raise click.BadParameter("use ISO 8601, e.g. 2026-01-31T00:00:00+00:00", param_hint="--now") from exc
    keys = archive_keys_from_settings(settings)
    engine = make_engine(settings.db_url, pool_size=1)
    try:
        run = run_retention(engine, _artifacts(settings), MemoryStore(engine).list_tenants(), now=ref, keys=keys)
    finally:
        engine.dispose()
    for tenant, items in run.results.items():
        rows = sum(r.manifest.rows for r in items)
        kept = sum(r.kept for r in items)
        note = f"; {kept} changed since the snapshot, kept for the next run" if kept else ""
        click.echo(f"{tenant}: {len(items)} archive(s), {rows} interaction(s) archived and removed{note}")
    for tenant, error in run.failures.items():
        click.echo(f"{tenant}: FAILED: {error}", err=True)
    if run.failures:
        click.echo(f"error: retention failed for {len(run.failures)} tenant(s); the others ran", err=True)
        sys.exit(1)


@archive.command("restore")
@click.option("--tenant", required=True, help="Tenant whose archive to restore.")
@click.option(
    "--date", "day", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Day of the interactions (UTC)."
)
def archive_restore(tenant: str, day: datetime) -> None:
    """Insert a day's archived interactions (and their edits) back; rows already present are skipped."""
    from aion_assets.core.db import make_engine
    from aion_assets.core.settings import get_settings
    from aion_assets.memory.archive_format import archive_keys_from_settings
    from aion_assets.memory.retention import restore_day

    settings = get_settings()
    keys = archive_keys_from_settings(settings)
    engine = make_engine(settings.db_url, pool_size=1)
    try:
        result = restore_day(engine, _artifacts(settings), tenant, date(day.year, day.month, day.day), keys=keys)
    finally:
        engine.dispose()
    click.echo(
        f"restored {result.interactions} interaction(s) and {result.edits} edit(s) from {result.archives} "
        f"archive(s); {result.skipped} already present"
    )


COMMANDS: list[click.Command] = [ui, archive]
