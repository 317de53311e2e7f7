"""Dagster resources of the memory domain: memory store and PII scrubber.

Thin typed clients over the plain-Python modules. Nothing connects or loads a model when the
resource is built: the engine, the S3 client and the spaCy model are created on first use,
so building ``Definitions`` (and importing this module) stays side-effect free.
"""


from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr
from sqlalchemy.engine import Engine

from aion_assets.memory.archive_format import ArchiveKeys, archive_keys
from aion_assets.memory.models import Tenant
from aion_assets.memory.store import MemoryStore


class MemoryStoreResource(dg.ConfigurableResource):
    """The memory store (interactions, self-edits) at a database URL, as the application role."""

    database_url: str = Field(
        description="sqlite:///path or postgresql://role@host/db (application role); give it through dg.EnvVar "
        "when it holds a password.",
    )
    pool_size: int = Field(default=4, ge=1, description="Connections kept per run process.")
    archive_key: str | None = Field(
        default=None,
        description="AES-256 key (base64/hex) encrypting retention archives and signing their manifests "
        "(AION_ARCHIVE_KEY, else AION_ADAPTER_KEY); give it through dg.EnvVar. Unset: plaintext, unsigned.",
    )

    _engine: Engine | None = PrivateAttr(default=None)
    _store: MemoryStore | None = PrivateAttr(default=None)

    def get_store(self) -> MemoryStore:
        """The store, creating the engine on first use (one per process)."""
        if self._store is None:
            from aion_assets.core.db import make_engine

            self._engine = make_engine(self.database_url, pool_size=self.pool_size)
            self._store = MemoryStore(self._engine)
        return self._store

    def archive_keys(self) -> ArchiveKeys | None:
        """The retention archives' keys, or None without a key.

        Raises:
            ConfigError: the key is not 32 bytes of base64 or hex.
        """
        from aion_assets.core.crypto import load_key

        return archive_keys(load_key(self.archive_key)) if self.archive_key else None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine, self._store = None, None


class ScrubberResource(dg.ConfigurableResource):
    """The PII scrubber (Presidio + spaCy), loaded once per process on first use."""

    batch_size: int = Field(default=64, ge=1, description="Examples per scrub_many batch.")

    def get_scrubber(self) -> Any:
        """The process's ``aion_assets.memory.scrub.engine.Scrubber``."""
        from aion_assets.memory.scrub.engine import get_scrubber

        return get_scrubber()

    def policy_for(self, tenant: Tenant | None) -> Any:
        """TENANT's ``ScrubPolicy`` (see ``aion_assets.memory.scrub.policy.scrub_policy``)."""
        from aion_assets.memory.scrub.policy import scrub_policy

        return scrub_policy(tenant)
