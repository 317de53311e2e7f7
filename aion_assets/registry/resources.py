"""Dagster resource of the registry: the registry store and its webhook outbox.

Built from the settings in ``aion_assets/definitions.py``; it never reads the environment
itself. Nothing connects when the resource is built: the engine is created on first use.
"""

import dagster as dg
from pydantic import Field, PrivateAttr
from sqlalchemy.engine import Engine

from aion_assets.registry.sql_store import SqlRegistryStore
from aion_assets.registry.webhooks import WebhookOutbox


class RegistryResource(dg.ConfigurableResource):
    """The model registry (versions, routes, audit) at a database URL, as the application role."""

    database_url: str = Field(
        description="sqlite:///path or postgresql://role@host/db (application role); give it through dg.EnvVar "
        "when it holds a password.",
    )
    pool_size: int = Field(default=2, ge=1, description="Connections kept per run process.")
    alert_webhook_url: str | None = Field(
        default=None, description="Where promotion alerts are posted (Alertmanager JSON); None: no alerts."
    )
    deploy_webhook_url: str | None = Field(
        default=None, description="Where route changes are posted as deployment triggers; None: not posted."
    )
    webhook_secret: str | None = Field(
        default=None, description="HMAC-SHA256 key signing webhooks; give it through dg.EnvVar, never inline."
    )
    webhook_base_delay: float = Field(default=5.0, gt=0, description="Seconds before the first retry (doubled).")
    webhook_max_delay: float = Field(default=3600.0, gt=0, description="Longest wait between two attempts.")
    actor: str = Field(default="pipeline", description="Who the pipeline's registry writes are recorded as.")

    _engine: Engine | None = PrivateAttr(default=None)
    _store: SqlRegistryStore | None = PrivateAttr(default=None)

    def _get_engine(self) -> Engine:
        if self._engine is None:
            from aion_assets.core.db import make_engine

            self._engine = make_engine(self.database_url, pool_size=self.pool_size)
        return self._engine

    def get_store(self) -> SqlRegistryStore:
        """The registry store (engine created on first use, one per process)."""
        if self._store is None:
            self._store = SqlRegistryStore(self._get_engine())
        return self._store

    def get_outbox(self) -> WebhookOutbox:
        """The webhook outbox, signing with the configured secret."""
        secret = self.webhook_secret.encode() if self.webhook_secret else None
        return WebhookOutbox(
            self._get_engine(),
            secret=secret,
            base_delay=self.webhook_base_delay,
            max_delay=self.webhook_max_delay,
        )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine, self._store = None, None
