"""`S3ArtifactStore`: artifacts as objects in an S3-compatible bucket (AWS S3, MinIO, SeaweedFS).

Small objects are one PutObject, larger files a multipart upload; S3 shows either only once it
is complete, which is what makes writes atomic. boto3 is imported only when a client is built
or an error translated.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from aion_assets.core.artifacts.base import (
    TEMP_PREFIX,
    ArtifactNotFoundError,
    ArtifactStore,
    InvalidKeyError,
    validate_key,
    validate_prefix,
)
from aion_assets.core.errors import ArtifactError, ConfigError, StoreUnavailableError

#: Files larger than this go to S3 as a multipart upload (S3 only shows the object once the
#: upload completes, so multipart is as atomic as a single PutObject).
DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024

_UNAVAILABLE_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "503", "500"}
_AUTH_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


def _client_error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _client_error_status(exc: Exception) -> int:
    response = getattr(exc, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


class S3ArtifactStore(ArtifactStore):
    """Artifacts as objects in BUCKET under PREFIX, through any boto3 S3 client.

    CLIENT is a ``boto3.client("s3", ...)`` (dagster-aws' ``S3Resource.get_client()`` gives
    one). Small objects are a single PutObject, larger files a multipart upload; S3 makes
    both visible only once complete, which is what makes writes atomic. When SSE_KMS_KEY_ID
    is set, every write asks for server-side encryption with that KMS key.

    Errors: a missing object raises ArtifactNotFoundError naming the URI; a connection
    failure or a 5xx answer raises StoreUnavailableError (retry later); rejected credentials
    or a missing bucket raise ConfigError; anything else raises ArtifactError.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client: Any = None,
        *,
        sse_kms_key_id: str | None = None,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ConfigError(f"S3 bucket name {bucket!r} is invalid; give a bare bucket name")
        if client is None:
            raise ConfigError("S3ArtifactStore needs a boto3 S3 client (boto3.client('s3', ...))")
        prefix = prefix.strip("/")
        if prefix:
            try:
                validate_key(prefix)
            except InvalidKeyError as exc:
                raise ConfigError(f"S3 artifact prefix is invalid: {exc}") from None
        self.bucket = bucket
        self.prefix = prefix
        self.client = client
        self.sse_kms_key_id = sse_kms_key_id
        self.multipart_threshold = multipart_threshold

    def __repr__(self) -> str:
        return f"S3ArtifactStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    # -- helpers ---------------------------------------------------------------------------

    def _object_key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _base_uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _extra_args(self) -> dict[str, str]:
        if not self.sse_kms_key_id:
            return {}
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.sse_kms_key_id}

    def _transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=max(8 * 1024 * 1024, self.multipart_threshold // 8),
        )

    @contextlib.contextmanager
    def _translate(self, action: str, uri: str) -> Iterator[None]:
        """Turn boto3/botocore failures into the project's errors, naming ACTION and URI."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionError,
            HTTPClientError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        try:
            yield
        except (ConnectionError, HTTPClientError) as exc:
            raise StoreUnavailableError(
                f"object store unreachable while trying to {action} {uri}: {exc}; check the endpoint "
                "and retry"
            ) from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise ConfigError(f"no S3 credentials to {action} {uri}: {exc}") from exc
        except (ClientError, S3UploadFailedError) as exc:
            # upload_file wraps the ClientError it got; look through to it.
            inner = exc.__context__ if isinstance(exc, S3UploadFailedError) else exc
            if isinstance(inner, (ConnectionError, HTTPClientError)):
                raise StoreUnavailableError(
                    f"object store unreachable while trying to {action} {uri}"
                ) from exc
            code = _client_error_code(inner) if inner is not None else ""
            status = _client_error_status(inner) if inner is not None else 0
            if code in _MISSING_CODES:
                raise ArtifactNotFoundError(f"artifact not found: {uri}") from exc
            if code == "NoSuchBucket":
                raise ConfigError(
                    f"S3 bucket {self.bucket!r} does not exist (while trying to {action} {uri}); create "
                    "it or ask for it to be created (create_bucket=True)"
                ) from exc
            if code in _AUTH_CODES:
                raise ConfigError(f"S3 refused the credentials to {action} {uri} ({code})") from exc
            if code in _UNAVAILABLE_CODES or status >= 500:
                raise StoreUnavailableError(
                    f"object store failed to {action} {uri} ({code or status}); retry later"
                ) from exc
            raise ArtifactError(f"S3 error while trying to {action} {uri}: {code or exc}") from exc
        except BotoCoreError as exc:
            raise ArtifactError(f"S3 client error while trying to {action} {uri}: {exc}") from exc

    # -- interface -------------------------------------------------------------------------

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object_key(key)}"

    def put_bytes(self, key: str, data: bytes) -> str:
        object_key = self._object_key(key)
        uri = f"s3://{self.bucket}/{object_key}"
        with self._translate("write", uri):
            if len(data) > self.multipart_threshold:
                self.client.upload_fileobj(
                    io.BytesIO(data), self.bucket, object_key,
                    ExtraArgs=self._extra_args() or None, Config=self._transfer_config(),
                )
            else:
                self.client.put_object(Bucket=self.bucket, Key=object_key, Body=data, **self._extra_args())
        return uri

    def put_file(self, key: str, path: Path) -> str:
        object_key = self._object_key(key)
        uri = f"s3://{self.bucket}/{object_key}"
        if not Path(path).is_file():
            raise ArtifactError(f"cannot store {uri}: local file {path} does not exist")
        with self._translate("write", uri):
            self.client.upload_file(
                str(path), self.bucket, object_key,
                ExtraArgs=self._extra_args() or None, Config=self._transfer_config(),
            )
        return uri

    def get_bytes(self, key: str) -> bytes:
        uri = self.uri(key)
        with self._translate("read", uri):
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
            body = response["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()

    def open_read(self, key: str) -> BinaryIO:
        uri = self.uri(key)
        with self._translate("read", uri):
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        body: BinaryIO = response["Body"]
        return body

    def download_file(self, key: str, path: Path) -> None:
        uri = self.uri(key)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Download beside the target and rename, so a failed transfer never leaves a partial
        # file where a complete one is expected.
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        os.close(fd)
        try:
            with self._translate("download", uri):
                self.client.download_file(
                    self.bucket, self._object_key(key), tmp_name, Config=self._transfer_config()
                )
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise

    def exists(self, key: str) -> bool:
        uri = self.uri(key)
        try:
            with self._translate("look up", uri):
                self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ArtifactNotFoundError:
            return False
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: builtins.list[str] = []
        with self._translate("list", f"{self._base_uri()}/{prefix}"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
                # Folder markers ('a/b/') made by other tools are not objects of ours.
                keys.extend(
                    item["Key"][strip:] for item in page.get("Contents", []) if not item["Key"].endswith("/")
                )
        yield from sorted(keys)

    def delete(self, key: str) -> None:
        uri = self.uri(key)
        with self._translate("delete", uri):
            self.client.delete_object(Bucket=self.bucket, Key=self._object_key(key))

    # -- bucket management -----------------------------------------------------------------

    def ensure_bucket(self, *, create: bool = False) -> None:
        """Check that the bucket exists; create it when CREATE is true.

        Raises ConfigError when the bucket is missing and CREATE is false (or the credentials
        are refused), StoreUnavailableError when the store cannot be reached.
        """
        from botocore.exceptions import ClientError

        uri = f"s3://{self.bucket}"
        try:
            with self._translate("check bucket", uri):
                self.client.head_bucket(Bucket=self.bucket)
            return
        except ArtifactNotFoundError:
            pass
        if not create:
            raise ConfigError(
                f"S3 bucket {self.bucket!r} does not exist; create it or ask for it to be created "
                "(create_bucket=True)"
            )
        region = getattr(getattr(self.client, "meta", None), "region_name", None)
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with self._translate("create bucket", uri):
            try:
                self.client.create_bucket(**kwargs)
            except ClientError as exc:
                # Another process may have created it in between: that is what we wanted.
                if _client_error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise


def make_s3_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
) -> Any:
    """Build a boto3 S3 client with settings that suit S3-compatible servers too.

    With an ENDPOINT_URL (MinIO, SeaweedFS) path-style addressing is used, since such servers
    rarely have wildcard DNS for virtual-host buckets. Credentials left as None fall back to
    boto3's usual chain (environment, profile, instance role).
    """
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region or "us-east-1",
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        aws_access_key_id=access_key or None,
        aws_secret_access_key=secret_key or None,
        config=config,
    )
