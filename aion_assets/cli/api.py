"""`aion api`: serve the HTTP API with uvicorn."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--log-level", default="warning", show_default=True, help="uvicorn log level.")
def api(host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the memory API (OpenAPI docs at /docs)."""
    import uvicorn

    from aion_assets.core.db import make_engine
    from aion_assets.core.migrate import check_current
    from aion_assets.core.settings import get_settings

    settings = get_settings()
    # Refuse to start on an unmigrated database with a message, not a stack trace per request.
    check_current(make_engine(settings.db_url, pool_size=1))
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
