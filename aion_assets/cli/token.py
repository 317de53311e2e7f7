"""`aion token`: mint a development JWT."""

from __future__ import annotations

import click


@click.command()
@click.option("--tenant", required=True, help="Tenant the token is scoped to.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["writer", "reviewer", "admin"]),
    help="Role(s) granted; repeat for several.",
)
@click.option("--ttl", default=3600, show_default=True, type=click.IntRange(1), help="Seconds of validity.")
@click.option("--subject", default=None, help="The token's subject (reviewer name); default dev@TENANT.")
def token(tenant: str, roles: tuple[str, ...], ttl: int, subject: str | None) -> None:
    """Mint a development token and print it alone on stdout."""
    from pydantic import TypeAdapter, ValidationError

    from aion_assets.core.auth import mint_token
    from aion_assets.core.settings import get_settings
    from aion_assets.memory.models import Ident

    try:
        TypeAdapter(Ident).validate_python(tenant)
    except ValidationError as exc:
        raise click.BadParameter("tenant must be letters, digits and _.:@/- (max 128)", param_hint="--tenant") from exc
    secret = get_settings().jwt_signing_secret()
    click.echo(mint_token(secret, tenant_id=tenant, roles=list(roles), ttl_seconds=ttl, subject=subject))
