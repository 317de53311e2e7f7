"""`aion token`: mint a development JWT."""

from __future__ import annotations

import click

from aion_assets.core.auth import Role


@click.command()
@click.option("--tenant", required=True, help="Tenant the token is scoped to.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="Role(s) granted; repeat for several.",
)
@click.option(
    "--ttl",
    default=3600,
    show_default=True,
    type=click.IntRange(1),
    help="Seconds of validity (at most AION_JWT_MAX_TTL_SECONDS).",
)
@click.option("--subject", default=None, help="The token's subject (reviewer name); default dev@TENANT.")
def token(tenant: str, roles: tuple[str, ...], ttl: int, subject: str | None) -> None:
    """Mint a development token (HS256, the configured secret) and print it alone on stdout."""
    from aion_assets.core.auth import MAX_SUBJECT_CHARS, TENANT_ID_RULE, is_valid_tenant_id, mint_token
    from aion_assets.core.settings import get_settings

    if not is_valid_tenant_id(tenant):
        raise click.BadParameter(f"tenant must be {TENANT_ID_RULE}", param_hint="--tenant")
    if subject is not None and not 0 < len(subject) <= MAX_SUBJECT_CHARS:
        raise click.BadParameter(f"subject must be 1 to {MAX_SUBJECT_CHARS} characters", param_hint="--subject")
    settings = get_settings()
    cap = settings.jwt_max_ttl_seconds
    if cap and ttl > cap:
        raise click.BadParameter(
            f"{ttl} s exceeds AION_JWT_MAX_TTL_SECONDS ({cap} s); the API would refuse the token", param_hint="--ttl"
        )
    secret = settings.jwt_signing_secret()
    click.echo(mint_token(secret, tenant_id=tenant, roles=list(roles), ttl_seconds=ttl, subject=subject))
