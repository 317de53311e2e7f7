"""Encryption of artifacts at rest: AES-256-GCM with a versioned header.

Adapters and datasets may be encrypted before they reach the artifact store, so that the
object store (or a stolen disk) only ever holds ciphertext. One format serves both bytes and
files, so `decrypt_bytes` reads what `encrypt_file` wrote and the other way round.

Format, version 1 (all integers big-endian)::

    magic  b"AIONENC"            7 bytes
    version 0x01                  1 byte
    chunk_size                    4 bytes   plaintext bytes per chunk
    salt                         16 bytes   random per message
    chunk 0 .. chunk n-1                    ciphertext + 16-byte GCM tag each

Each message gets its own AES-256 key derived from the master key and the salt (HKDF-SHA256),
so nonces never repeat across messages however many are written with one master key. Chunk i
is sealed with nonce = 7 zero bytes + i (4 bytes) + last flag (1 byte) and the header (plus
any caller-given associated data) as AAD, so reordering, dropping or truncating chunks, or
editing the header, all fail authentication. Files are processed chunk by chunk, in memory
bounded by the chunk size.

`derive_key` gives purpose-bound subkeys of the master key (HKDF-SHA256 with a distinct
``info``), and `mac` / `verify_mac` authenticate metadata (HMAC-SHA256) with such a subkey, so
one configured key serves encryption and authentication without the two uses ever sharing a key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import io
import os
import string
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from aion_assets.core.errors import ArtifactError, ConfigError

MAGIC = b"AIONENC"
VERSION = 1
KEY_SIZE = 32
SALT_SIZE = 16
TAG_SIZE = 16
DEFAULT_CHUNK_SIZE = 1024 * 1024
_HEADER = struct.Struct(">7sBI16s")
HEADER_SIZE = _HEADER.size  # 28
_HKDF_INFO = b"aion-artifact-v1"
_MAX_CHUNKS = 2**32


def generate_key() -> bytes:
    """Return a fresh random 32-byte key (store it as ``base64.b64encode(key)``)."""
    return os.urandom(KEY_SIZE)


def load_key(value: str) -> bytes:
    """Parse a 32-byte key given as 64 hex characters or as base64 (standard or URL-safe).

    Raises ConfigError, without echoing the value, when it is neither.
    """
    text = (value or "").strip()
    if not text:
        raise ConfigError(
            "encryption key is empty; give 32 random bytes as base64 (`openssl rand -base64 32`) or hex"
        )
    # Text made only of hex digits is read as hex: base64 of 32 bytes (43-44 characters) is
    # practically never all hex, so this never misreads a base64 key.
    if len(text) % 2 == 0 and all(ch in string.hexdigits for ch in text):
        decoded = bytes.fromhex(text)
        if len(decoded) != KEY_SIZE:
            raise ConfigError(
                f"encryption key is hex of {len(decoded)} bytes, AES-256 needs {KEY_SIZE}; "
                "generate one with `openssl rand -base64 32`"
            )
        return decoded
    # URL-safe base64 ('-', '_') and missing padding are common in env files; accept both.
    normalized = text.replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            "encryption key is neither hex nor base64; give 32 random bytes as base64 "
            "(`openssl rand -base64 32`) or as 64 hex characters"
        ) from None
    if len(decoded) != KEY_SIZE:
        raise ConfigError(
            f"encryption key decodes to {len(decoded)} bytes, AES-256 needs {KEY_SIZE}; "
            "generate one with `openssl rand -base64 32`"
        )
    return decoded


def is_encrypted(blob: bytes) -> bool:
    """Whether BLOB starts with this module's header (any version)."""
    return len(blob) >= len(MAGIC) + 1 and bytes(blob[: len(MAGIC)]) == MAGIC


def _check_key(key: bytes) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_SIZE:
        raise ConfigError(f"encryption key must be {KEY_SIZE} bytes (use load_key() on the configured text)")


def _message_cipher(key: bytes, salt: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=_HKDF_INFO).derive(bytes(key))
    return AESGCM(derived)


def derive_key(key: bytes, purpose: str) -> bytes:
    """A 32-byte subkey of the master KEY for one PURPOSE (HKDF-SHA256, info ``aion-<purpose>``).

    Different purposes give independent keys, so a MAC key never equals an encryption key and
    a value authenticated for one purpose does not verify for another.

    Raises:
        ConfigError: KEY is not 32 bytes.
        ValueError: PURPOSE is empty.
    """
    _check_key(key)
    if not purpose:
        raise ValueError("purpose must be a non-empty string")
    info = b"aion-" + purpose.encode()
    if info == _HKDF_INFO:
        raise ValueError(f"purpose {purpose!r} is reserved for artifact encryption")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info).derive(bytes(key))


def mac(key: bytes, data: bytes) -> str:
    """HMAC-SHA256 of DATA under KEY (use a `derive_key` subkey), as 64 hex characters."""
    _check_key(key)
    return hmac.new(bytes(key), data, hashlib.sha256).hexdigest()


def verify_mac(key: bytes, data: bytes, expected: str | None) -> bool:
    """Whether EXPECTED is the HMAC-SHA256 of DATA under KEY (constant-time; False for a missing value)."""
    if not isinstance(expected, str):
        return False
    # Compare bytes: compare_digest refuses non-ASCII str, and EXPECTED comes from a file.
    return hmac.compare_digest(mac(key, data).encode(), expected.strip().lower().encode("utf-8", "replace"))


def _nonce(index: int, last: bool) -> bytes:
    if index >= _MAX_CHUNKS:
        raise ArtifactError("artifact too large to encrypt in one message (over 2**32 chunks)")
    return b"\x00" * 7 + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


def _read_full(stream: BinaryIO, size: int) -> bytes:
    parts = []
    remaining = size
    while remaining > 0:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _encrypt_stream(
    source: BinaryIO, key: bytes, associated_data: bytes, chunk_size: int
) -> Iterator[bytes]:
    _check_key(key)
    if not 1 <= chunk_size < 2**32:
        raise ValueError("chunk_size must be between 1 and 2**32 - 1")
    salt = os.urandom(SALT_SIZE)
    header = _HEADER.pack(MAGIC, VERSION, chunk_size, salt)
    yield header
    cipher = _message_cipher(key, salt)
    aad = header + associated_data
    index = 0
    chunk = _read_full(source, chunk_size)
    while True:
        # Read one chunk ahead: the last chunk is sealed with its own flag, so a truncated
        # ciphertext can never pass for a complete one.
        following = _read_full(source, chunk_size) if len(chunk) == chunk_size else b""
        last = not following
        yield cipher.encrypt(_nonce(index, last), chunk, aad)
        if last:
            return
        chunk = following
        index += 1


def _decrypt_stream(source: BinaryIO, key: bytes, associated_data: bytes) -> Iterator[bytes]:
    _check_key(key)
    header = _read_full(source, HEADER_SIZE)
    if len(header) < len(MAGIC) + 1 or header[: len(MAGIC)] != MAGIC:
        raise ArtifactError(
            "not an encrypted artifact (no AIONENC header); was it stored without encryption?"
        )
    version = header[len(MAGIC)]
    if version != VERSION:
        raise ArtifactError(
            f"encrypted artifact has format version {version}; this code reads version {VERSION}"
        )
    if len(header) < HEADER_SIZE:
        raise ArtifactError("wrong key or corrupted artifact: encrypted header is truncated")
    _, _, chunk_size, salt = _HEADER.unpack(header)
    if chunk_size == 0:
        raise ArtifactError("wrong key or corrupted artifact: invalid chunk size in header")
    cipher = _message_cipher(key, salt)
    aad = header + associated_data
    sealed_size = chunk_size + TAG_SIZE
    index = 0
    sealed = _read_full(source, sealed_size)
    while True:
        following = _read_full(source, sealed_size) if len(sealed) == sealed_size else b""
        last = not following
        try:
            yield cipher.decrypt(_nonce(index, last), sealed, aad)
        except InvalidTag:
            raise ArtifactError(
                f"wrong key or corrupted artifact: chunk {index} failed authentication "
                "(check the configured encryption key; the artifact may have been altered or truncated)"
            ) from None
        if last:
            return
        sealed = following
        index += 1


def encrypt_bytes(
    data: bytes, key: bytes, *, associated_data: bytes = b"", chunk_size: int = DEFAULT_CHUNK_SIZE
) -> bytes:
    """Encrypt DATA with the 32-byte KEY; returns header + sealed chunks.

    ASSOCIATED_DATA (e.g. the artifact key) is authenticated but not stored: decryption must
    pass the same value, which binds a ciphertext to where it belongs.
    """
    return b"".join(_encrypt_stream(io.BytesIO(data), key, associated_data, chunk_size))


def decrypt_bytes(blob: bytes, key: bytes, *, associated_data: bytes = b"") -> bytes:
    """Decrypt what `encrypt_bytes` or `encrypt_file` produced.

    Raises ArtifactError("wrong key or corrupted artifact ...") when authentication fails,
    and ArtifactError when BLOB is not in this format.
    """
    return b"".join(_decrypt_stream(io.BytesIO(blob), key, associated_data))


def _write_atomically(target: Path, chunks: Iterator[bytes]) -> None:
    # Plaintext or ciphertext appears at TARGET only once complete and verified; a failure
    # (wrong key, tampering) leaves nothing behind.
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".aion-tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def encrypt_file(
    src: Path, dst: Path, key: bytes, *, associated_data: bytes = b"", chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Path:
    """Encrypt the file SRC into DST (written atomically); returns DST. Streams in chunks."""
    dst = Path(dst)
    with open(src, "rb") as source:
        _write_atomically(dst, _encrypt_stream(source, key, associated_data, chunk_size))
    return dst


def decrypt_file(src: Path, dst: Path, key: bytes, *, associated_data: bytes = b"") -> Path:
    """Decrypt the file SRC into DST; DST appears only when every chunk authenticated.

    Raises ArtifactError on a wrong key, tampering or truncation (DST is then not created).
    """
    dst = Path(dst)
    with open(src, "rb") as source:
        _write_atomically(dst, _decrypt_stream(source, key, associated_data))
    return dst
