"""Dagster resource of the learning half: SEAL config, base models, scenarios, adapter key.

Thin wrapper over the plain modules (`seal_config`, `base_models`, `scenarios`); nothing is read
or converted until a run asks for it.
"""


from pathlib import Path

import dagster as dg
from pydantic import Field

from aion_assets.core.errors import NotFoundError
from aion_assets.seal.config import DomainSettings, SealConfig
from aion_assets.seal.evaluation.scenarios import ScenarioSuite
from aion_assets.seal.training.base_models import BaseModelInfo


class SealResource(dg.ConfigurableResource):
    """Where the SEAL settings, base models and scenario prompts come from."""

    config_path: str = Field(description="The SEAL config file (hyperparameters, base models, house styles).")
    home: str = Field(description="Folder caching converted base models (models/<name>).")
    scenarios_dir: str | None = Field(
        default=None, description="Root of the scenario files <tenant>/<domain>.yaml; None: no scenarios."
    )
    adapter_key: str | None = Field(
        default=None,
        description="AES-256 key (base64/hex) encrypting adapters at rest; None stores them in clear. "
        "Give it through dg.EnvVar, never inline.",
    )

    def load_config(self) -> SealConfig:
        """The validated SEAL config (ConfigError names the file and key on a problem)."""
        from aion_assets.seal.config import load_seal_config

        return load_seal_config(Path(self.config_path))

    def settings_for(self, tenant: str, domain: str) -> DomainSettings:
        """Merged hyperparameters, style and base model of TENANT/DOMAIN."""
        return self.load_config().settings_for(tenant, domain)

    def base_model(self, name: str) -> BaseModelInfo:
        """The checkpoint folder of base model NAME (converted and cached on first use)."""
        from aion_assets.seal.training.base_models import resolve_base_model

        return resolve_base_model(name, Path(self.home), self.load_config())

    def scenarios_for(self, tenant: str, domain: str) -> ScenarioSuite | None:
        """The tenant/domain's scenario prompts, or None when it has no scenario file."""
        from aion_assets.seal.evaluation.scenarios import load_for

        if self.scenarios_dir is None:
            return None
        try:
            return load_for(tenant, domain, Path(self.scenarios_dir))
        except NotFoundError:
            return None

    def encryption_key(self) -> bytes | None:
        """The adapter encryption key, or None when adapters are stored in clear."""
        from aion_assets.core.crypto import load_key

        return load_key(self.adapter_key) if self.adapter_key else None
