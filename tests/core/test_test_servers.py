"""The test servers themselves: the private PostgreSQL cluster and the SeaweedFS S3 server.

Protects: a test can stop its private database mid-run (connections then fail) and bring it
back with committed data intact, also after a crash-like stop; the private cluster never
uses or disturbs the machine's server on 5432; SeaweedFS listens on loopback only, on the
ports the fixture chose, and speaks authenticated S3.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psycopg
import pytest

from tests.support.private_pg import PrivatePG
from tests.support.seaweedfs import S3Endpoint


def _listening_addresses(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket that process PID listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            hex_addr, hex_port = local.split(":")
            assert len(hex_addr) == width
            # IPv4 is stored little-endian; any IPv6 listener is reported raw, and fails the tests.
            address = socket.inet_ntoa(bytes.fromhex(hex_addr)[::-1]) if width == 8 else f"ipv6:{hex_addr}"
            found.append((address, int(hex_port, 16)))
    return found


def _connect(pg: PrivatePG) -> psycopg.Connection:
    return psycopg.connect(pg.url, connect_timeout=5, autocommit=True)


def test_private_pg_stop_and_start_mid_run(private_pg: PrivatePG) -> None:
    with _connect(private_pg) as conn:
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO kept VALUES (1, 'before stop')")
    private_pg.stop()
    assert not private_pg.running
    with pytest.raises(psycopg.OperationalError):
        _connect(private_pg)
    private_pg.start()
    with _connect(private_pg) as conn:
        assert conn.execute("SELECT note FROM kept").fetchall() == [("before stop",)]
        conn.execute("INSERT INTO kept VALUES (2, 'before crash')")
    private_pg.stop("immediate")  # like a crash: no checkpoint, recovery on start
    with pytest.raises(psycopg.OperationalError):
        _connect(private_pg)
    private_pg.start()
    with _connect(private_pg) as conn:
        assert conn.execute("SELECT id FROM kept ORDER BY id").fetchall() == [(1,), (2,)]


def test_private_pg_open_connection_breaks_when_stopped(private_pg: PrivatePG) -> None:
    conn = _connect(private_pg)
    try:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        private_pg.stop()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    finally:
        conn.close()
    private_pg.restart()
    with _connect(private_pg) as again:
        assert again.execute("SELECT 1").fetchone() == (1,)


def test_private_pg_is_private(private_pg: PrivatePG) -> None:
    assert private_pg.port != 5432
    with _connect(private_pg) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings "
                "WHERE name IN ('port', 'listen_addresses', 'data_directory', 'unix_socket_directories')"
            ).fetchall()
        )
    assert settings["port"] == str(private_pg.port)
    assert settings["listen_addresses"] == "127.0.0.1"
    assert Path(settings["data_directory"]) == private_pg.data_dir
    assert settings["unix_socket_directories"] == str(private_pg.socket_dir)
    postmaster_pid = int((private_pg.data_dir / "postmaster.pid").read_text().split()[0])
    assert _listening_addresses(postmaster_pid) == [("127.0.0.1", private_pg.port)]
    assert private_pg.url_for("app", user="aion_app", driver="psycopg") == (
        f"postgresql+psycopg://aion_app@127.0.0.1:{private_pg.port}/app"
    )


def test_private_pg_is_removed_after_use(tmp_path: Path) -> None:
    from tests.support.private_pg import private_postgres

    with private_postgres(tmp_path) as pg:
        base = pg.base_dir
        assert (pg.data_dir / "PG_VERSION").exists()
    assert not base.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg.url, connect_timeout=3)
    assert (tmp_path / "postgres.log").exists()


def test_seaweedfs_listens_on_loopback_only(s3_endpoint: S3Endpoint) -> None:
    assert s3_endpoint.pid is not None
    addresses = _listening_addresses(s3_endpoint.pid)
    assert len(addresses) == 8  # master, volume, filer, s3: http + grpc each, all chosen by us
    assert {address for address, _ in addresses} == {"127.0.0.1"}
    s3_port = int(s3_endpoint.endpoint_url.rsplit(":", 1)[1])
    assert s3_port in {port for _, port in addresses}


def test_seaweedfs_requires_the_configured_credentials(s3_endpoint: S3Endpoint) -> None:
    from botocore.exceptions import ClientError

    client = s3_endpoint.client()
    client.list_buckets()
    wrong = S3Endpoint(s3_endpoint.endpoint_url, s3_endpoint.access_key, "wrong-secret").client()
    with pytest.raises(ClientError) as info:
        wrong.list_buckets()
    assert info.value.response["Error"]["Code"] in {"SignatureDoesNotMatch", "AccessDenied"}
