"""Dagster resource shared by every domain: the artifact store (local folder or S3).

Nothing connects when the resource is built: the S3 client is created on first use.
"""

from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr

from aion_assets.core.artifacts import ArtifactStore, artifact_store_from_uri
from aion_assets.core.errors import ConfigError


class ArtifactStoreResource(dg.ConfigurableResource):
    """Where datasets and archives go: a local folder (``file://`` or a path) or ``s3://bucket/prefix``.

    For S3 the boto3 client comes from dagster-aws's ``S3Resource`` (endpoint URL, region and
    credentials configured there; credentials through ``dg.EnvVar`` only).
    """

    uri: str = Field(description="A folder path, file:///abs/path, or s3://bucket/prefix.")
    s3: S3Resource | None = Field(
        default=None,
        description="S3 connection (endpoint URL for MinIO/SeaweedFS, region; credentials from boto3's chain or "
        "dg.EnvVar); required for an s3:// URI.",
    )
    sse_kms_key_id: str | None = Field(default=None, description="KMS key id for server-side encryption on S3.")
    create_bucket: bool = Field(default=False, description="Create the S3 bucket when it is missing.")

    _store: ArtifactStore | None = PrivateAttr(default=None)

    def get_store(self) -> ArtifactStore:
        """The artifact store the URI names (built on first use).

        Raises:
            ConfigError: an s3:// URI without an ``s3`` connection.
        """
        if self._store is None:
            client: Any = None
            if self.uri.strip().lower().startswith("s3://"):
                if self.s3 is None:
                    raise ConfigError(f"artifact store {self.uri!r} needs the resource's s3 connection (endpoint)")
                client = self.s3.get_client()
            self._store = artifact_store_from_uri(
                self.uri, client=client, sse_kms_key_id=self.sse_kms_key_id, create_bucket=self.create_bucket
            )
        return self._store
