"""The artifact store contract, on a local folder and on a real S3 server (SeaweedFS).

Protects: both implementations behave the same (put/get/list/exists/delete/put_dir/
download_dir/open_read), writes are atomic (a reader never sees a partial object, a failed
write leaves the old object and no temp file in list()), invalid keys are refused, a missing
key raises an error naming its URI, S3 failures become the project's error types, SSE-KMS is
requested when configured, and `artifact_store_from_uri` picks the right store.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aion_assets.core import crypto
from aion_assets.core.artifacts import (
    ArtifactNotFoundError,
    ArtifactStore,
    InvalidKeyError,
    LocalArtifactStore,
    artifact_store_from_uri,
)
from aion_assets.core.artifacts.base import TEMP_PREFIX
from aion_assets.core.artifacts.s3 import S3ArtifactStore, make_s3_client
from aion_assets.core.errors import ArtifactError, ConfigError, StoreUnavailableError
from tests.support import free_ports
from tests.support.seaweedfs import S3Endpoint

BUCKET = "aion-test"


def _s3_store(endpoint: S3Endpoint, **kwargs: object) -> S3ArtifactStore:
    store = artifact_store_from_uri(
        f"s3://{BUCKET}/run-{uuid.uuid4().hex[:12]}",
        endpoint_url=endpoint.endpoint_url,
        region=endpoint.region,
        access_key=endpoint.access_key,
        secret_key=endpoint.secret_key,
        create_bucket=True,
        **kwargs,  # type: ignore[arg-type]
    )
    assert isinstance(store, S3ArtifactStore)
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield LocalArtifactStore(tmp_path / "store")
    else:
        yield _s3_store(request.getfixturevalue("s3_endpoint"))


def test_put_get_round_trip_and_uri(store: ArtifactStore) -> None:
    data = bytes(range(256)) * 10
    uri = store.put_bytes("datasets/acme/support/v1/train.jsonl", data)
    assert uri == store.uri("datasets/acme/support/v1/train.jsonl")
    assert uri.startswith("file:///" if isinstance(store, LocalArtifactStore) else f"s3://{BUCKET}/run-")
    assert uri.endswith("/datasets/acme/support/v1/train.jsonl")
    assert store.get_bytes("datasets/acme/support/v1/train.jsonl") == data
    assert store.exists("datasets/acme/support/v1/train.jsonl")
    assert not store.exists("datasets/acme/support/v1/eval.jsonl")


def test_put_replaces_and_empty_object(store: ArtifactStore) -> None:
    store.put_bytes("reports/r.json", b"old")
    store.put_bytes("reports/r.json", b"new and longer")
    assert store.get_bytes("reports/r.json") == b"new and longer"
    store.put_bytes("reports/empty", b"")
    assert store.exists("reports/empty")
    assert store.get_bytes("reports/empty") == b""


def test_list_is_recursive_sorted_and_prefix_filtered(store: ArtifactStore) -> None:
    assert list(store.list()) == []
    keys = ["b/2.txt", "a/x/1.txt", "a/0.txt", "ab/3.txt", "a/x/y/z.txt", "top.txt"]
    for key in keys:
        store.put_bytes(key, key.encode())
    assert list(store.list()) == sorted(keys)
    assert list(store.list("a/")) == ["a/0.txt", "a/x/1.txt", "a/x/y/z.txt"]
    # A prefix is a string prefix, as on S3: 'a' also matches 'ab/...'.
    assert list(store.list("a")) == ["a/0.txt", "a/x/1.txt", "a/x/y/z.txt", "ab/3.txt"]
    assert list(store.list("a/x/1")) == ["a/x/1.txt"]
    assert list(store.list("nothing/")) == []


def test_delete_and_delete_missing(store: ArtifactStore) -> None:
    store.put_bytes("k/one", b"1")
    store.put_bytes("k/two", b"2")
    store.delete("k/one")
    assert not store.exists("k/one")
    assert list(store.list("k/")) == ["k/two"]
    store.delete("k/one")  # deleting a missing key is not an error
    store.delete("never/there")


def test_put_file_and_download_file(store: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "adapter.safetensors"
    src.write_bytes(os.urandom(300_000))
    uri = store.put_file("adapters/m/1/adapter.safetensors", src)
    assert uri == store.uri("adapters/m/1/adapter.safetensors")
    target = tmp_path / "out" / "deep" / "copy.bin"
    store.download_file("adapters/m/1/adapter.safetensors", target)
    assert target.read_bytes() == src.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["copy.bin"]  # no temp file left


def test_put_file_of_missing_local_file_fails(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        store.put_file("x/y", tmp_path / "nope.bin")
    assert not store.exists("x/y")


def test_put_dir_download_dir_round_trip(store: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "adapter"
    files = {
        "adapter_config.json": b'{"r": 8}',
        "adapter_model.safetensors": os.urandom(50_000),
        "tokenizer/vocab.json": b"{}",
        "tokenizer/nested/merges.txt": b"a b\n",
    }
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    keys = store.put_dir("adapters/acme/2026", src)
    assert keys == sorted(f"adapters/acme/2026/{rel}" for rel in files)
    out = tmp_path / "restored"
    paths = store.download_dir("adapters/acme/2026/", out)
    assert sorted(p.relative_to(out).as_posix() for p in paths) == sorted(files)
    for rel, data in files.items():
        assert (out / rel).read_bytes() == data


def test_open_read_streams(store: ArtifactStore) -> None:
    data = os.urandom(200_000)
    store.put_bytes("archives/a.jsonl.gz", data)
    chunks = []
    with store.open_read("archives/a.jsonl.gz") as stream:
        while chunk := stream.read(16_384):
            chunks.append(chunk)
    assert b"".join(chunks) == data
    assert len(chunks) > 1


def test_missing_key_error_names_the_uri(store: ArtifactStore, tmp_path: Path) -> None:
    uri = store.uri("datasets/none/train.jsonl")
    for call in (
        lambda: store.get_bytes("datasets/none/train.jsonl"),
        lambda: store.open_read("datasets/none/train.jsonl"),
        lambda: store.download_file("datasets/none/train.jsonl", tmp_path / "dl" / "x"),
    ):
        with pytest.raises(ArtifactNotFoundError) as info:
            call()
        assert uri in str(info.value)
        assert isinstance(info.value, ArtifactError)
    assert not (tmp_path / "dl").exists() or list((tmp_path / "dl").iterdir()) == []


@pytest.mark.parametrize(
    "key",
    ["", "/abs/key", "a/../b", "../escape", "a//b", "a/./b", "trailing/", "a\\b", "nul\x00byte",
     f"a/{TEMP_PREFIX}x"],
)
def test_invalid_keys_are_rejected(store: ArtifactStore, key: str) -> None:
    for call in (
        lambda: store.put_bytes(key, b"x"),
        lambda: store.get_bytes(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.uri(key),
    ):
        with pytest.raises(InvalidKeyError) as info:
            call()
        assert isinstance(info.value, ValueError) and isinstance(info.value, ArtifactError)
    assert list(store.list()) == []


def test_invalid_list_prefix_is_rejected(store: ArtifactStore) -> None:
    with pytest.raises(InvalidKeyError):
        list(store.list("../"))


def test_readers_never_see_a_partial_object(store: ArtifactStore) -> None:
    """A reader racing a writer gets either the old or the new object, whole."""
    old, new = b"A" * 1_500_000, b"B" * 2_000_000
    store.put_bytes("race/blob", old)
    seen: list[bytes] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set() and len(seen) < 200:
                seen.append(store.get_bytes("race/blob"))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(8):
            store.put_bytes("race/blob", new if i % 2 == 0 else old)
    finally:
        done.set()
        reader.join(timeout=120)
    assert not errors
    assert seen
    assert all(blob in (old, new) for blob in seen), {len(b) for b in seen}
    assert list(store.list("race/")) == ["race/blob"]


def test_local_failed_write_keeps_old_object_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    store.put_bytes("d/obj", b"complete old version")

    def crash(*_args: object) -> None:  # the process "dies" between write and rename
        raise OSError("injected crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="injected"):
        store.put_bytes("d/obj", b"new version that never lands")
    monkeypatch.undo()
    assert store.get_bytes("d/obj") == b"complete old version"
    assert sorted(p.name for p in (tmp_path / "store" / "d").iterdir()) == ["obj"]


def test_local_list_hides_temp_files_of_crashed_writers(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    store.put_bytes("d/obj", b"x")
    # What a writer killed with SIGKILL mid-write leaves behind.
    (tmp_path / "store" / "d" / f"{TEMP_PREFIX}abc123").write_bytes(b"partial")
    assert list(store.list()) == ["d/obj"]
    assert list(store.list("d/")) == ["d/obj"]


def test_local_key_that_is_a_folder_fails_clearly(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    store.put_bytes("a/b", b"x")
    with pytest.raises(ArtifactError, match="both an object and a folder"):
        store.put_bytes("a", b"y")
    with pytest.raises(ArtifactNotFoundError):
        store.get_bytes("a")
    assert not store.exists("a")


def test_encrypted_artifact_round_trip_through_store(store: ArtifactStore) -> None:
    key = crypto.generate_key()
    plain = b'{"prompt": "hi", "response": "hello"}\n' * 1000
    blob = crypto.encrypt_bytes(plain, key, associated_data=b"enc/train.jsonl")
    store.put_bytes("enc/train.jsonl.enc", blob)
    stored = store.get_bytes("enc/train.jsonl.enc")
    assert crypto.is_encrypted(stored) and plain[:40] not in stored
    assert crypto.decrypt_bytes(stored, key, associated_data=b"enc/train.jsonl") == plain
    with pytest.raises(ArtifactError, match="wrong key or corrupted"):
        crypto.decrypt_bytes(stored, crypto.generate_key(), associated_data=b"enc/train.jsonl")


# -- S3 specifics ---------------------------------------------------------------------------


def test_s3_multipart_upload_with_sse_kms(s3_endpoint: S3Endpoint, tmp_path: Path) -> None:
    store = _s3_store(s3_endpoint, sse_kms_key_id=s3_endpoint.kms_key_id)
    store.multipart_threshold = 5 * 1024 * 1024  # S3's minimum part size
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    store.put_file("adapters/big.bin", big)
    store.put_bytes("adapters/small.json", b"{}")
    for key in ("adapters/big.bin", "adapters/small.json"):
        head = store.client.head_object(Bucket=store.bucket, Key=f"{store.prefix}/{key}")
        assert head["ServerSideEncryption"] == "aws:kms"
    out = tmp_path / "back.bin"
    store.download_file("adapters/big.bin", out)
    assert out.read_bytes() == big.read_bytes()
    assert list(store.list()) == ["adapters/big.bin", "adapters/small.json"]


def test_s3_without_kms_requests_no_encryption(s3_endpoint: S3Endpoint) -> None:
    store = _s3_store(s3_endpoint)
    store.put_bytes("plain", b"x")
    head = store.client.head_object(Bucket=store.bucket, Key=f"{store.prefix}/plain")
    assert head.get("ServerSideEncryption") != "aws:kms"


def test_s3_unreachable_endpoint_raises_store_unavailable() -> None:
    (port,) = free_ports(1)  # nothing listens there
    store = artifact_store_from_uri(
        "s3://bucket-x/p", endpoint_url=f"http://127.0.0.1:{port}", access_key="a", secret_key="b"
    )
    with pytest.raises(StoreUnavailableError, match="s3://bucket-x/p/k"):
        store.get_bytes("k")
    with pytest.raises(StoreUnavailableError):
        store.put_bytes("k", b"x")
    with pytest.raises(StoreUnavailableError):
        list(store.list())


def test_s3_wrong_credentials_raise_config_error(s3_endpoint: S3Endpoint) -> None:
    store = artifact_store_from_uri(
        f"s3://{BUCKET}/p",
        endpoint_url=s3_endpoint.endpoint_url,
        access_key=s3_endpoint.access_key,
        secret_key="not-the-secret",
    )
    with pytest.raises(ConfigError, match="refused the credentials"):
        store.put_bytes("k", b"x")


def test_s3_missing_bucket_is_created_only_when_asked(s3_endpoint: S3Endpoint) -> None:
    bucket = f"aion-missing-{uuid.uuid4().hex[:8]}"
    settings = dict(
        endpoint_url=s3_endpoint.endpoint_url,
        access_key=s3_endpoint.access_key,
        secret_key=s3_endpoint.secret_key,
    )
    store = artifact_store_from_uri(f"s3://{bucket}/p", **settings)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="does not exist"):
        store.put_bytes("k", b"x")
    assert isinstance(store, S3ArtifactStore)
    with pytest.raises(ConfigError, match="does not exist"):
        store.ensure_bucket()
    created = artifact_store_from_uri(f"s3://{bucket}/p", create_bucket=True, **settings)  # type: ignore[arg-type]
    created.put_bytes("k", b"x")
    assert store.get_bytes("k") == b"x"
    artifact_store_from_uri(f"s3://{bucket}/p", create_bucket=True, **settings)  # idempotent


def test_s3_store_accepts_any_boto3_client(s3_endpoint: S3Endpoint) -> None:
    client = s3_endpoint.client()
    store = S3ArtifactStore(BUCKET, f"/own-client-{uuid.uuid4().hex[:8]}/", client)
    store.ensure_bucket(create=True)
    assert store.put_bytes("a/b", b"1") == f"s3://{BUCKET}/{store.prefix}/a/b"
    assert list(store.list()) == ["a/b"]


# -- artifact_store_from_uri ----------------------------------------------------------------


def test_from_uri_local_forms(tmp_path: Path) -> None:
    plain = artifact_store_from_uri(str(tmp_path / "a"))
    as_uri = artifact_store_from_uri((tmp_path / "b c").as_uri())
    assert isinstance(plain, LocalArtifactStore) and plain.root == (tmp_path / "a").resolve()
    assert isinstance(as_uri, LocalArtifactStore) and as_uri.root == (tmp_path / "b c").resolve()
    as_uri.put_bytes("x", b"1")
    assert (tmp_path / "b c" / "x").read_bytes() == b"1"


def test_from_uri_s3_form_contacts_nothing_until_used() -> None:
    store = artifact_store_from_uri("s3://my-bucket/seal/adapters/", endpoint_url="http://127.0.0.1:1")
    assert isinstance(store, S3ArtifactStore)
    assert (store.bucket, store.prefix) == ("my-bucket", "seal/adapters")
    assert store.uri("m/2026/adapter.bin") == "s3://my-bucket/seal/adapters/m/2026/adapter.bin"


@pytest.mark.parametrize(
    ("uri", "message"),
    [("", "empty"), ("   ", "empty"), ("s3://", "no bucket"), ("gs://bucket/x", "unsupported scheme"),
     ("file://otherhost/x", "local path"), ("s3://bucket/a/../b", "prefix is invalid")],
)
def test_from_uri_rejects_bad_uris(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        artifact_store_from_uri(uri, client=make_s3_client(endpoint_url="http://127.0.0.1:1"))
