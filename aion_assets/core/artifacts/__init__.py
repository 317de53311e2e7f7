"""Artifact store: datasets, adapters, reports and archives, in a local folder or S3.

One interface, two implementations (`LocalArtifactStore`, `S3ArtifactStore`). Keys are
POSIX-style relative paths such as ``datasets/acme/support/v1/train.jsonl``. Every write is
atomic: a reader sees either nothing or the complete object, never a partial one.

`artifact_store_from_uri` turns ``AION_ARTIFACTS_URI`` (a path, ``file://...`` or
``s3://bucket/prefix``) into a store. This package is plain Python: the Dagster resource that
wraps it lives with the orchestration code.

Modules: ``base`` (the interface, key validation, `key_segment`), ``local`` (the folder store),
``s3`` (the S3 store and `make_s3_client`); this one builds a store from a URI and exports the
names callers use everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from aion_assets.core.artifacts.base import (
    ArtifactNotFoundError,
    ArtifactStore,
    InvalidKeyError,
    key_segment,
)
from aion_assets.core.artifacts.local import LocalArtifactStore
from aion_assets.core.artifacts.s3 import S3ArtifactStore, make_s3_client
from aion_assets.core.errors import ConfigError


def artifact_store_from_uri(
    uri: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    sse_kms_key_id: str | None = None,
    create_bucket: bool = False,
    client: Any = None,
) -> ArtifactStore:
    """Build the artifact store that URI names.

    Args:
        uri: a plain path, ``file:///abs/path`` (local store) or ``s3://bucket[/prefix]``.
        endpoint_url, region, access_key, secret_key: S3 connection settings (ignored for
            local stores); see `make_s3_client`.
        sse_kms_key_id: when set, S3 writes use server-side encryption with this KMS key.
        create_bucket: create the S3 bucket when it is missing (this contacts the server
            now); otherwise nothing is contacted until first use, and a missing bucket then
            raises ConfigError.
        client: an existing boto3 S3 client to use instead of building one.

    Returns:
        A LocalArtifactStore or S3ArtifactStore.

    Raises:
        ConfigError: for an empty URI, an unsupported scheme, or a bucket missing when
            CREATE_BUCKET asks to check it.
    """
    if not uri or not uri.strip():
        raise ConfigError("artifact store URI is empty; set AION_ARTIFACTS_URI to a path or s3://bucket/prefix")
    uri = uri.strip()
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"artifact store URI {uri!r}: file:// URIs must name a local path (file:///path)")
        return LocalArtifactStore(Path(unquote(parsed.path)))
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):
        return LocalArtifactStore(Path(uri))
    if scheme == "s3":
        if not parsed.netloc:
            raise ConfigError(f"artifact store URI {uri!r} has no bucket; use s3://bucket/prefix")
        s3_client = client or make_s3_client(
            endpoint_url=endpoint_url, region=region, access_key=access_key, secret_key=secret_key
        )
        store = S3ArtifactStore(
            parsed.netloc, parsed.path.strip("/"), s3_client, sse_kms_key_id=sse_kms_key_id
        )
        if create_bucket:
            store.ensure_bucket(create=True)
        return store
    raise ConfigError(f"artifact store URI {uri!r}: unsupported scheme {scheme!r}; use a path, file:// or s3://")


__all__ = [
    "ArtifactNotFoundError",
    "ArtifactStore",
    "InvalidKeyError",
    "LocalArtifactStore",
    "artifact_store_from_uri",
    "key_segment",
]
