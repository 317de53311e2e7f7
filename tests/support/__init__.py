"""Test support: real servers (SeaweedFS S3, a private PostgreSQL) started on loopback ports."""

from __future__ import annotations

import socket
from pathlib import Path


def free_ports(count: int) -> list[int]:
    """Return COUNT distinct free TCP ports on 127.0.0.1.

    All sockets are held open together so the kernel hands out distinct ports; there is a
    short window between closing them and the server binding, which is the usual trade-off.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        ports = [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()
    # The machine's own PostgreSQL listens there; never hand it out, even by accident.
    if 5432 in ports:
        return free_ports(count)
    return ports


def log_tail(path: Path, lines: int = 40) -> str:
    """Return the last LINES lines of the log file PATH (or a note that it is missing)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:])
