"""Artifact store: datasets, adapters, reports and archives, in a local folder or S3.

One interface, two implementations (`LocalArtifactStore`, `S3ArtifactStore`). Keys are
POSIX-style relative paths such as ``datasets/acme/support/v1/train.jsonl``. Every write is
atomic: a reader sees either nothing or the complete object, never a partial one.

`artifact_store_from_uri` turns ``AION_ARTIFACTS_URI`` (a path, ``file://...`` or
``s3://bucket/prefix``) into a store. This module is plain Python: the Dagster resource that
wraps it lives with the orchestration code.
"""

from __future__ import annotations

import abc
import builtins
import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, unquote, urlparse

from aion_assets.core.errors import ArtifactError, ConfigError, StoreUnavailableError
from aion_assets.core.files import make_private_dir

#: Local temporary files start with this; keys may not, so `list()` can always skip them.
TEMP_PREFIX = ".aion-tmp-"

#: Files larger than this go to S3 as a multipart upload (S3 only shows the object once the
#: upload completes, so multipart is as atomic as a single PutObject).
DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024

_COPY_BUFFER = 1024 * 1024


class InvalidKeyError(ArtifactError, ValueError):
    """A key is not a clean relative POSIX path (empty, absolute, '..', empty segment...)."""


class ArtifactNotFoundError(ArtifactError):
    """No object is stored at the key; the message names the full URI."""


def validate_key(key: str) -> str:
    """Return KEY unchanged when it is a valid artifact key, else raise InvalidKeyError.

    A valid key is a non-empty relative POSIX path whose segments are non-empty, not '.' or
    '..', contain no backslash, NUL or control character, and do not start with the
    reserved temporary-file prefix.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError(f"artifact key must be a non-empty string, got {key!r}")
    if key.startswith("/"):
        raise InvalidKeyError(f"artifact key must be relative, got absolute {key!r}")
    if "\\" in key or any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise InvalidKeyError(f"artifact key {key!r} contains a backslash or control character")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKeyError(
                f"artifact key {key!r} has an empty, '.' or '..' segment; use a plain relative path "
                "such as 'datasets/acme/support/v1/train.jsonl'"
            )
        if segment.startswith(TEMP_PREFIX):
            raise InvalidKeyError(f"artifact key {key!r} uses the reserved prefix {TEMP_PREFIX!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Return PREFIX when it is '' or a valid key with an optional trailing '/'."""
    if prefix == "":
        return prefix
    validate_key(prefix.removesuffix("/"))
    return prefix


class ArtifactStore(abc.ABC):
    """Abstract store of immutable-by-convention objects addressed by key."""

    @abc.abstractmethod
    def uri(self, key: str) -> str:
        """Return the full URI of KEY (``file:///...`` or ``s3://bucket/prefix/key``)."""

    @abc.abstractmethod
    def put_bytes(self, key: str, data: bytes) -> str:
        """Store DATA at KEY atomically, replacing any object there. Returns the URI."""

    @abc.abstractmethod
    def put_file(self, key: str, path: Path) -> str:
        """Store the local file PATH at KEY atomically. Returns the URI."""

    @abc.abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Return the object at KEY. Raises ArtifactError when it does not exist."""

    @abc.abstractmethod
    def open_read(self, key: str) -> BinaryIO:
        """Open KEY for streaming reads (caller closes). Raises ArtifactError if missing."""

    @abc.abstractmethod
    def download_file(self, key: str, path: Path) -> None:
        """Copy the object at KEY to the local file PATH."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored at KEY."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys under PREFIX (recursively), sorted."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete the object at KEY; deleting a missing key is not an error."""

    # builtins.list: inside the class body `list` is the method below, not the type.
    def put_dir(self, prefix: str, directory: Path) -> builtins.list[str]:
        """Upload every file below DIRECTORY under PREFIX; returns the keys written."""
        keys = []
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{path.relative_to(directory).as_posix()}"
            self.put_file(key, path)
            keys.append(key)
        return keys

    def download_dir(self, prefix: str, directory: Path) -> builtins.list[Path]:
        """Download every object under PREFIX into DIRECTORY, keeping relative paths."""
        out = []
        base = prefix.rstrip("/") + "/"
        for key in self.list(base):
            target = directory / key[len(base):]
            target.parent.mkdir(parents=True, exist_ok=True)
            self.download_file(key, target)
            out.append(target)
        return out


def _atomic_copy_to(path: Path, source: BinaryIO) -> None:
    """Write SOURCE to PATH through a temp file in the same folder + fsync + os.replace.

    The temp file lives in PATH's own folder because os.replace is only atomic within one
    filesystem; the fsync before the rename keeps a crash from leaving a renamed but empty file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            shutil.copyfileobj(source, tmp, _COPY_BUFFER)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a folder be opened for it.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class LocalArtifactStore(ArtifactStore):
    """Artifacts as files below ROOT (the embedded default).

    Writes go to a hidden temp file in the target folder, are fsynced and renamed into place.
    On a local filesystem a key cannot be both an object and a folder of other keys
    (``a`` and ``a/b``); such a write raises ArtifactError.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def put_bytes(self, key: str, data: bytes) -> str:
        return self._put(key, io.BytesIO(data))

    def put_file(self, key: str, path: Path) -> str:
        target = self._path(key)
        if not Path(path).is_file():
            raise ArtifactError(f"cannot store {target.as_uri()}: local file {path} does not exist")
        with open(path, "rb") as source:
            return self._put(key, source)

    def _put(self, key: str, source: BinaryIO) -> str:
        path = self._path(key)
        try:
            # Folders 0700 whatever the umask (files are already 0600: mkstemp); artifacts hold PII.
            make_private_dir(path.parent)
            _atomic_copy_to(path, source)
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
            raise ArtifactError(
                f"cannot write {path.as_uri()}: a key is both an object and a folder of other keys "
                f"in the local store ({exc.strerror})"
            ) from exc
        return path.as_uri()

    def get_bytes(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ArtifactNotFoundError(f"artifact not found: {path.as_uri()}") from None

    def download_file(self, key: str, path: Path) -> None:
        with self.open_read(key) as source:
            _atomic_copy_to(Path(path), source)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        validate_prefix(prefix)
        # Walk only the deepest folder that the prefix fully names, then filter by string
        # prefix, so that 'datasets/ac' matches 'datasets/acme/...' as it does on S3.
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root.joinpath(*folder.split("/")) if folder else self.root
        keys = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(TEMP_PREFIX)]
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith(TEMP_PREFIX):
                    continue
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        yield from sorted(keys)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except IsADirectoryError:
            raise ArtifactError(f"cannot delete {path.as_uri()}: it is a folder of other keys") from None


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


def key_segment(value: str) -> str:
    """VALUE (a tenant id) as one artifact-key segment (``/`` and other separators percent-quoted)."""
    return quote(value, safe="@:.-_")
