"""A tenant's curation settings: thresholds, agents' domains and system prompts, and config validation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aion_assets.core.errors import ConfigError
from aion_assets.memory.models import Tenant
from aion_assets.memory.scrub.policy import scrub_policy

DEFAULT_DOMAIN = "general"
DEFAULT_SYSTEM_PROMPT = "You are a helpful {domain} assistant."
_DOMAIN_CHARS = re.compile(r"[^a-z0-9_.-]+")


class CurationSettings(BaseModel):
    """Curation thresholds of one tenant: the defaults, then ``tenants.config["curation"]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_reward: float = Field(0.5, ge=0.0, le=1.0, description="Edits below this reward are left out.")
    eval_share: float = Field(0.2, ge=0.0, lt=1.0, description="Share of interactions held out for evaluation.")
    min_rows: int = Field(10, ge=1, description="A dataset with fewer rows fails its blocking check.")
    min_new_edits: int = Field(20, ge=1, description="Newly approved edits that make the sensor start a run.")


def curation_settings(tenant: Tenant | None, **overrides: Any) -> CurationSettings:
    """TENANT's curation settings, with OVERRIDES (None values ignored) applied last.

    Raises:
        ConfigError: the tenant's ``curation`` config or an override is invalid (names the field).
    """
    data: dict[str, Any] = {}
    if tenant is not None:
        raw = tenant.config.get("curation") or {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"tenant {tenant.tenant_id}: config.curation must be an object")
        data.update(raw)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return CurationSettings.model_validate(data)
    except ValidationError as exc:
        who = f"tenant {tenant.tenant_id}: " if tenant is not None else ""
        problems = "; ".join(f"curation.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{who}invalid curation settings: {problems}") from exc


# -- domains -----------------------------------------------------------------------------------


def normalize_domain(value: Any) -> str:
    """A domain name safe for partition keys and artifact paths (lower case, no '/')."""
    if not isinstance(value, str):
        return DEFAULT_DOMAIN
    name = _DOMAIN_CHARS.sub("-", value.strip().lower()).strip("-.")[:64].strip("-.")
    return name or DEFAULT_DOMAIN


@dataclass(frozen=True)
class AgentProfile:
    """What a tenant's config says about one agent."""

    domain: str | None = None
    system_prompt: str | None = None


def agent_profiles(tenant_config: Mapping[str, Any]) -> dict[str, AgentProfile]:
    """The ``agents`` section of a tenant's config: ``{agent_id: {"domain", "system_prompt"}}``."""
    agents = tenant_config.get("agents") or {}
    if not isinstance(agents, Mapping):
        raise ConfigError("tenant config 'agents' must be an object of agent_id -> {domain, system_prompt}")
    out = {}
    for agent_id, spec in agents.items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"tenant config agents.{agent_id} must be an object")
        domain = spec.get("domain")
        prompt = spec.get("system_prompt")
        out[str(agent_id)] = AgentProfile(
            domain=normalize_domain(domain) if domain else None,
            system_prompt=prompt if isinstance(prompt, str) and prompt.strip() else None,
        )
    return out


def domain_of(agent_id: str, metadata: Mapping[str, Any], profiles: Mapping[str, AgentProfile]) -> str:
    """The domain of an interaction: agent config, then metadata ``domain``, then ``general``."""
    profile = profiles.get(agent_id)
    if profile is not None and profile.domain:
        return profile.domain
    return normalize_domain(metadata.get("domain")) if metadata.get("domain") else DEFAULT_DOMAIN



def validate_tenant_config(tenant_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Check a tenant config object (keys ``curation``, ``agents``, ``scrub``) before it is stored.

    Returns:
        The config as a plain dict.

    Raises:
        ConfigError: an unknown top-level key or an invalid section (the message names it).
    """

    if not isinstance(config, Mapping):
        raise ConfigError("tenant config must be an object")
    unknown = sorted(set(config) - {"curation", "agents", "scrub"})
    if unknown:
        raise ConfigError(f"tenant config: unknown key(s) {', '.join(unknown)}; use curation, agents, scrub")
    probe = Tenant(
        tenant_id=tenant_id, retention_days=None, adaptation_opt_out=False, config=dict(config),
        created_at=datetime.now(UTC),
    )
    curation_settings(probe)
    agents = config.get("agents") or {}
    if not isinstance(agents, Mapping) or not all(isinstance(v, Mapping) for v in agents.values()):
        raise ConfigError("tenant config: agents must map agent ids to objects")
    agent_profiles(config)
    scrub_policy(probe)
    return dict(config)

