"""`aion tenant`: show or change a tenant's settings."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("tenant")
@click.option("--tenant", required=True, help="Tenant id.")
@click.option("--retention-days", type=click.IntRange(min=1), default=None, help="Archive after N days.")
@click.option("--opt-out/--opt-in", "opt_out", default=None, help="Exclude the tenant from adaptation (or include).")
@click.option(
    "--config-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="YAML/JSON object with curation, agents and scrub sections; replaces the stored config.",
)
def tenant_cmd(tenant: str, retention_days: int | None, opt_out: bool | None, config_file: Path | None) -> None:
    """Show or change a tenant's settings (retention, opt-out, curation, agents' domains, scrubbing)."""
    import json

    import yaml

    from aion_assets.core.db import make_engine
    from aion_assets.core.errors import ConfigError
    from aion_assets.core.settings import get_settings
    from aion_assets.memory.store import MemoryStore
    from aion_assets.seal.datasets.tenant_config import validate_tenant_config

    config = None
    if config_file is not None:
        try:
            raw = yaml.safe_load(config_file.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{config_file}: not valid YAML/JSON: {exc}") from exc
        config = validate_tenant_config(tenant, raw if raw is not None else {})
    # As the schema owner: the application role may read its own tenant row but never change settings.
    store = MemoryStore(make_engine(get_settings().db_admin_url, pool_size=1))
    stored = store.configure_tenant(tenant, retention_days=retention_days, adaptation_opt_out=opt_out, config=config)
    click.echo(json.dumps(stored.model_dump(mode="json"), indent=2))
