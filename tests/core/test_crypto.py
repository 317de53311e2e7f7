"""Encryption of artifacts at rest (aion_assets/core/crypto.py).

Protects: round trips for every size around chunk boundaries, bytes and files interoperate,
a wrong key, a changed byte anywhere, truncation, reordered chunks or other associated data
all fail loudly with ArtifactError (and decrypt_file then writes nothing), keys load from
hex and base64 and bad keys give a ConfigError that never echoes the value, subkeys derived
for one purpose differ from every other purpose's, and a MAC verifies only the same data under
the same subkey.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from aion_assets.core import crypto
from aion_assets.core.errors import ArtifactError, ConfigError

KEY = bytes(range(32))
CHUNK = 64


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7])
def test_round_trip_around_chunk_boundaries(size: int) -> None:
    data = os.urandom(size)
    blob = crypto.encrypt_bytes(data, KEY, chunk_size=CHUNK)
    assert crypto.is_encrypted(blob)
    chunks = max(1, -(-size // CHUNK))
    assert len(blob) == crypto.HEADER_SIZE + size + chunks * crypto.TAG_SIZE
    assert crypto.decrypt_bytes(blob, KEY) == data


def test_default_chunk_size_round_trip_and_fresh_salt() -> None:
    data = b"adapter weights " * 200_000  # ~3 MiB: several default-size chunks
    first, second = crypto.encrypt_bytes(data, KEY), crypto.encrypt_bytes(data, KEY)
    assert first != second  # a fresh salt (and so key) per message
    assert b"adapter weights" not in first
    assert crypto.decrypt_bytes(first, KEY) == crypto.decrypt_bytes(second, KEY) == data


def test_wrong_key_fails_loudly() -> None:
    blob = crypto.encrypt_bytes(b"secret adapter", KEY)
    with pytest.raises(ArtifactError, match="wrong key or corrupted artifact"):
        crypto.decrypt_bytes(blob, crypto.generate_key())


def _tamper_positions(blob: bytes) -> list[int]:
    # magic is checked by format, so start after it: version, chunk size, salt, body, tags.
    return [8, 11, 12, 27, crypto.HEADER_SIZE, crypto.HEADER_SIZE + CHUNK + 3, len(blob) - 1]


def test_every_tampered_byte_is_detected() -> None:
    blob = crypto.encrypt_bytes(os.urandom(2 * CHUNK + 10), KEY, chunk_size=CHUNK)
    for pos in _tamper_positions(blob):
        bad = bytearray(blob)
        bad[pos] ^= 0x01
        with pytest.raises(ArtifactError):
            crypto.decrypt_bytes(bytes(bad), KEY)


def test_truncation_and_reordering_are_detected() -> None:
    data = os.urandom(3 * CHUNK)
    blob = crypto.encrypt_bytes(data, KEY, chunk_size=CHUNK)
    sealed = CHUNK + crypto.TAG_SIZE
    header, body = blob[: crypto.HEADER_SIZE], blob[crypto.HEADER_SIZE:]
    parts = [body[i: i + sealed] for i in range(0, len(body), sealed)]
    assert len(parts) == 3
    for bad in (
        header + parts[0] + parts[1],  # last chunk dropped at a chunk boundary
        blob[:-5],  # cut inside the last chunk
        header + parts[1] + parts[0] + parts[2],  # chunks swapped
        header,  # body gone
        blob[:20],  # header cut
    ):
        with pytest.raises(ArtifactError, match="wrong key or corrupted artifact"):
            crypto.decrypt_bytes(bad, KEY)


def test_associated_data_binds_the_ciphertext() -> None:
    blob = crypto.encrypt_bytes(b"x", KEY, associated_data=b"adapters/acme/1")
    assert crypto.decrypt_bytes(blob, KEY, associated_data=b"adapters/acme/1") == b"x"
    with pytest.raises(ArtifactError, match="wrong key or corrupted"):
        crypto.decrypt_bytes(blob, KEY, associated_data=b"adapters/other/1")


def test_plaintext_and_unknown_versions_are_refused() -> None:
    assert not crypto.is_encrypted(b'{"plain": true}')
    assert not crypto.is_encrypted(b"")
    with pytest.raises(ArtifactError, match="not an encrypted artifact"):
        crypto.decrypt_bytes(b'{"plain": true}', KEY)
    future = bytearray(crypto.encrypt_bytes(b"x", KEY))
    future[7] = 2
    with pytest.raises(ArtifactError, match="format version 2"):
        crypto.decrypt_bytes(bytes(future), KEY)


def test_file_helpers_stream_and_interoperate(tmp_path: Path) -> None:
    src = tmp_path / "adapter.safetensors"
    src.write_bytes(os.urandom(5 * CHUNK + 3))
    enc = crypto.encrypt_file(src, tmp_path / "out" / "adapter.enc", KEY, chunk_size=CHUNK)
    assert crypto.decrypt_bytes(enc.read_bytes(), KEY) == src.read_bytes()
    dec = crypto.decrypt_file(enc, tmp_path / "adapter.dec", KEY)
    assert dec.read_bytes() == src.read_bytes()
    from_bytes = tmp_path / "from-bytes.enc"
    from_bytes.write_bytes(crypto.encrypt_bytes(b"made in memory", KEY))
    assert crypto.decrypt_file(from_bytes, tmp_path / "mem.dec", KEY).read_bytes() == b"made in memory"


def test_decrypt_file_failure_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "plain.bin"
    src.write_bytes(os.urandom(4 * CHUNK))
    enc = crypto.encrypt_file(src, tmp_path / "c.enc", KEY, chunk_size=CHUNK)
    tampered = bytearray(enc.read_bytes())
    tampered[-3] ^= 0xFF  # only the last chunk is bad: earlier chunks decrypt fine first
    enc.write_bytes(bytes(tampered))
    with pytest.raises(ArtifactError, match="chunk 3"):
        crypto.decrypt_file(enc, tmp_path / "dec" / "plain.bin", KEY)
    assert list((tmp_path / "dec").iterdir()) == []
    with pytest.raises(ArtifactError, match="wrong key"):
        crypto.decrypt_file(enc, tmp_path / "dec" / "plain.bin", crypto.generate_key())
    assert list((tmp_path / "dec").iterdir()) == []


def test_bad_key_length_for_encrypt_is_config_error() -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        crypto.encrypt_bytes(b"x", b"short")


@pytest.mark.parametrize(
    "text",
    [
        KEY.hex(),
        KEY.hex().upper(),
        base64.b64encode(KEY).decode(),
        base64.urlsafe_b64encode(KEY).decode().rstrip("="),
        f"  {base64.b64encode(KEY).decode()}\n",
    ],
)
def test_load_key_accepts_hex_and_base64(text: str) -> None:
    assert crypto.load_key(text) == KEY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("not a key at all!", "neither hex nor base64"),
        (base64.b64encode(b"k" * 16).decode(), "16 bytes"),
        ("ab" * 31, "31 bytes"),  # hex of the wrong length falls through to base64
    ],
)
def test_load_key_rejects_bad_values_without_echoing_them(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        crypto.load_key(text)
    if text.strip():
        assert text.strip() not in str(info.value)
    assert "openssl rand -base64 32" in str(info.value)


def test_generated_keys_are_random_and_loadable() -> None:
    first, second = crypto.generate_key(), crypto.generate_key()
    assert len(first) == 32 and first != second
    assert crypto.load_key(base64.b64encode(first).decode()) == first


def test_derived_keys_are_bound_to_their_purpose() -> None:
    mac_key = crypto.derive_key(KEY, "adapter-manifest-mac-v1")
    assert len(mac_key) == 32
    assert mac_key == crypto.derive_key(KEY, "adapter-manifest-mac-v1")  # deterministic
    assert mac_key != crypto.derive_key(KEY, "archive-manifest-mac-v1")
    assert mac_key != crypto.derive_key(crypto.generate_key(), "adapter-manifest-mac-v1")
    assert mac_key != KEY
    with pytest.raises(ValueError, match="reserved"):
        crypto.derive_key(KEY, "artifact-v1")  # the per-message encryption keys' info
    with pytest.raises(ValueError, match="non-empty"):
        crypto.derive_key(KEY, "")
    with pytest.raises(ConfigError, match="32 bytes"):
        crypto.derive_key(b"short", "adapter-manifest-mac-v1")


def test_mac_verifies_only_the_same_data_and_key() -> None:
    mac_key = crypto.derive_key(KEY, "adapter-manifest-mac-v1")
    tag = crypto.mac(mac_key, b'{"tenant_id":"acme"}')
    assert len(tag) == 64 and crypto.verify_mac(mac_key, b'{"tenant_id":"acme"}', tag)
    assert crypto.verify_mac(mac_key, b'{"tenant_id":"acme"}', tag.upper())
    assert not crypto.verify_mac(mac_key, b'{"tenant_id":"globex"}', tag)
    assert not crypto.verify_mac(crypto.derive_key(KEY, "other"), b'{"tenant_id":"acme"}', tag)
    for bad in ("", "zz" * 32, "\u00e9" * 64, None, 42):
        assert not crypto.verify_mac(mac_key, b'{"tenant_id":"acme"}', bad)  # type: ignore[arg-type]
