"""JSONL streams: lines and rows read a chunk at a time from files, S3 bodies and artifact stores."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import IO, Any


def iter_lines(stream: IO[bytes], chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a byte stream, newline included, reading CHUNK_SIZE bytes at a time.

    Works on any object with ``read(n)``: files, and S3 bodies, whose iteration yields
    fixed-size chunks rather than lines.
    """
    rest = b""
    while chunk := stream.read(chunk_size):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            yield line + b"\n"
    if rest:
        yield rest


def read_rows(stream: IO[bytes]) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL byte stream, one at a time (blank lines skipped)."""
    for line in iter_lines(stream):
        if line.strip():
            yield json.loads(line)


def stored_rows(store: Any, key: str) -> Iterator[dict[str, Any]]:
    """The rows of the JSONL object KEY of an artifact store, streamed (the stream is closed after)."""
    with contextlib.closing(store.open_read(key)) as stream:
        yield from read_rows(stream)
