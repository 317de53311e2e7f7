"""`aion api`: serve the HTTP API with uvicorn."""

from __future__ import annotations

import os

import click


def default_workers() -> int:
    """One worker process per CPU this process may run on (the latency floor needs every core)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option(
    "--workers",
    default=default_workers,
    show_default="one per CPU",
    type=click.IntRange(1, 64),
    help="Worker processes.",
)
@click.option("--log-level", default="warning", show_default=True, help="uvicorn log level.")
def api(host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the memory API (OpenAPI docs at /docs)."""
    import uvicorn

    from aion_assets.core.db import make_engine
    from aion_assets.core.migrate import check_app_role, check_current
    from aion_assets.core.settings import get_settings

    settings = get_settings()
    settings.token_verifier()  # refuse JWT settings that disagree here, with a message, not in every worker
    # Refuse to start on an unmigrated database with a message, not a stack trace per request.
    engine = make_engine(settings.db_url, pool_size=1)
    try:
        check_current(engine)
        # Refuse a role that escapes row-level security here, once, with a message (workers check again).
        warning = check_app_role(engine, allow_bypass=settings.allow_rls_bypass)
    finally:
        engine.dispose()
    if warning:
        click.echo(f"warning: {warning}", err=True)
    uvicorn.run(
        "aion_assets.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
