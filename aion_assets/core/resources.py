"""Dagster resource shared by every domain: the artifact store (local folder or S3).

Nothing connects when the resource is built: the S3 client is created on first use.
"""

from typing import Any

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr

from aion_assets.core.artifacts import ArtifactStore, artifact_store_from_uri


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
