"""Dagster resources of the pipeline: memory store, artifact store, PII scrubber.

Thin typed clients over the plain-Python modules. Nothing connects or loads a model when the
resource is built: the engine, the S3 client and the spaCy model are created on first use,
so building ``Definitions`` (and importing this module) stays side-effect free.
"""


from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr
from sqlalchemy.engine import Engine

from aion_assets.core.artifacts import ArtifactStore, artifact_store_from_uri
from aion_assets.memory.models import Tenant
from aion_assets.memory.store import MemoryStore


class MemoryStoreResource(dg.ConfigurableResource):
    """The memory store (interactions, self-edits) at a database URL, as the application role."""

    database_url: str | None = Field(
        default=None,
        description="sqlite:///path or postgresql://role@host/db (application role); default: AION_DATABASE_URL.",
    )
    pool_size: int = Field(default=4, ge=1, description="Connections kept per run process.")

    _engine: Engine | None = PrivateAttr(default=None)
    _store: MemoryStore | None = PrivateAttr(default=None)

    def get_store(self) -> MemoryStore:
        """The store, creating the engine on first use (one per process)."""
        if self._store is None:
            from aion_assets.core.db import make_engine

            url = self.database_url
            if url is None:
                from aion_assets.core.settings import get_settings

                url = get_settings().db_url
            self._engine = make_engine(url, pool_size=self.pool_size)
            self._store = MemoryStore(self._engine)
        return self._store

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine, self._store = None, None


class ArtifactStoreResource(dg.ConfigurableResource):
    """Where datasets and archives go: a local folder (``file://`` or a path) or ``s3://bucket/prefix``.

    For S3 the boto3 client comes from dagster-aws's ``S3Resource`` (endpoint URL, region and
    credentials configured there; credentials through ``dg.EnvVar`` only).
    """

    uri: str | None = Field(
        default=None, description="A folder path, file:///abs/path, or s3://bucket/prefix; default: AION_ARTIFACTS_URI."
    )
    s3: S3Resource | None = Field(
        default=None,
        description="S3 connection (endpoint URL for MinIO/SeaweedFS); default: AION_S3_ENDPOINT_URL/AION_S3_REGION "
        "with boto3's credential chain.",
    )
    sse_kms_key_id: str | None = Field(
        default=None, description="KMS key id for server-side encryption on S3; default: AION_S3_SSE_KMS_KEY_ID."
    )
    create_bucket: bool = Field(default=False, description="Create the S3 bucket when it is missing.")

    _store: ArtifactStore | None = PrivateAttr(default=None)

    def get_store(self) -> ArtifactStore:
        """The artifact store the URI names (built on first use)."""
        if self._store is None:
            uri, s3, kms = self.uri, self.s3, self.sse_kms_key_id
            if uri is None or (s3 is None and uri.strip().lower().startswith("s3://")):
                from aion_assets.core.settings import get_settings

                settings = get_settings()
                uri = uri or settings.artifacts
                kms = kms or settings.s3_sse_kms_key_id
                if s3 is None:
                    s3 = S3Resource(endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region)
            client: Any = None
            if uri.strip().lower().startswith("s3://"):
                assert s3 is not None
                client = s3.get_client()
            self._store = artifact_store_from_uri(
                uri, client=client, sse_kms_key_id=kms, create_bucket=self.create_bucket
            )
        return self._store


class ScrubberResource(dg.ConfigurableResource):
    """The PII scrubber (Presidio + spaCy), loaded once per process on first use."""

    batch_size: int = Field(default=64, ge=1, description="Examples per scrub_many batch.")

    def get_scrubber(self) -> Any:
        """The process's ``aion_assets.memory.scrub.Scrubber``."""
        from aion_assets.memory.scrub import get_scrubber

        return get_scrubber()

    def policy_for(self, tenant: Tenant | None) -> Any:
        """TENANT's ``ScrubPolicy`` (see ``aion_assets.seal.curation.scrub_policy``)."""
        from aion_assets.seal.curation import scrub_policy

        return scrub_policy(tenant)
