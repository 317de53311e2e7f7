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

    config_path: str | None = Field(
        default=None, description="config/seal.yaml (hyperparameters and styles); default: AION_SEAL_CONFIG."
    )
    home: str | None = Field(
        default=None, description="Folder caching converted base models (models/<name>); default: AION_HOME."
    )
    scenarios_dir: str | None = Field(
        default=None, description="Root of the scenario files <tenant>/<domain>.yaml; default: AION_SCENARIOS_DIR."
    )
    adapter_key: str | None = Field(
        default=None,
        description="AES-256 key (base64/hex) encrypting adapters at rest; default: AION_ADAPTER_KEY. "
        "Give it through dg.EnvVar, never inline.",
    )

    def _settings(self):  # type: ignore[no-untyped-def]
        from aion_assets.core.settings import get_settings

        return get_settings()

    def load_config(self) -> SealConfig:
        """The validated SEAL config (ConfigError names the file and key on a problem)."""
        from aion_assets.seal.config import load_seal_config

        path = Path(self.config_path) if self.config_path else self._settings().seal_config
        return load_seal_config(path)

    def settings_for(self, tenant: str, domain: str) -> DomainSettings:
        """Merged hyperparameters, style and base model of TENANT/DOMAIN."""
        return self.load_config().settings_for(tenant, domain)

    def base_model(self, name: str) -> BaseModelInfo:
        """The checkpoint folder of base model NAME (converted and cached on first use)."""
        from aion_assets.seal.training.base_models import resolve_base_model

        home = Path(self.home) if self.home else self._settings().resolved_home
        return resolve_base_model(name, home, self.load_config())

    def scenarios_for(self, tenant: str, domain: str) -> ScenarioSuite | None:
        """The tenant/domain's scenario prompts, or None when it has no scenario file."""
        from aion_assets.seal.evaluation.scenarios import load_for

        try:
            root = Path(self.scenarios_dir) if self.scenarios_dir else self._settings().scenarios_dir
            return load_for(tenant, domain, root)
        except NotFoundError:
            return None

    def encryption_key(self) -> bytes | None:
        """The adapter encryption key, or None when adapters are stored in clear."""
        from aion_assets.core.crypto import load_key

        value = self.adapter_key
        if value is None:
            secret = self._settings().adapter_key
            value = secret.get_secret_value() if secret is not None else None
        return load_key(value) if value else None
