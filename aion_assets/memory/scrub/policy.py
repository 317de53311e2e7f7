"""A tenant's scrub policy, read from its configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from aion_assets.core.errors import ConfigError
from aion_assets.memory.scrub.engine import ScrubPolicy

if TYPE_CHECKING:
    from aion_assets.memory.models import Tenant


def scrub_policy(tenant: Tenant | None) -> ScrubPolicy:
    """TENANT's ``ScrubPolicy`` from ``tenants.config["scrub"]`` (the default policy when unset).

    Raises:
        ConfigError: the tenant's scrub config is invalid (the message names the field).
    """

    raw = tenant.config.get("scrub") if tenant is not None else None
    if raw is not None and not isinstance(raw, Mapping):
        raise ConfigError(f"tenant {tenant.tenant_id if tenant else '?'}: config.scrub must be an object")
    return ScrubPolicy.from_config(raw or {})

