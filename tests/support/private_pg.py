"""A private PostgreSQL cluster for tests that stop the database mid-run.

`private_postgres(tmp_dir)` runs its own cluster (initdb + pg_ctl from ``pg_config --bindir``)
in a fresh temp folder, on a free port of 127.0.0.1 with trust auth and its unix socket in
that folder. It never touches the machine's server on 5432, so a test may `stop()` it and
`start()` it again freely. PostgreSQL refuses to run as root, so under root every command
runs as the ``postgres`` OS user through ``runuser -u postgres --``; under another user it
runs as that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import free_ports, log_tail

START_TIMEOUT_S = 60

# Durability settings only matter if the machine itself crashes mid-test; a stopped or
# killed server still recovers everything committed, which is what the tests rely on.
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "'32MB'",
    "max_connections": "100",
    "log_min_messages": "warning",
}


class PrivatePGError(RuntimeError):
    """The private cluster could not be created, started or stopped; the message says why."""


def _bindir() -> Path:
    try:
        out = subprocess.run(["pg_config", "--bindir"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PrivatePGError(f"pg_config not found or failed ({exc}); install the PostgreSQL server") from exc
    bindir = Path(out.strip())
    if not (bindir / "initdb").is_file() or not (bindir / "pg_ctl").is_file():
        raise PrivatePGError(
            f"no initdb/pg_ctl in {bindir} (pg_config --bindir); install the PostgreSQL server"
        )
    return bindir


@dataclass
class PrivatePG:
    """A running private cluster; `url` connects as the superuser ``postgres`` (trust auth)."""

    port: int
    base_dir: Path
    bindir: Path
    as_postgres: bool
    host: str = "127.0.0.1"
    user: str = "postgres"
    _running: bool = field(default=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "sock"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:PORT/postgres``."""
        return self.url_for("postgres")

    def url_for(self, database: str, *, user: str | None = None, driver: str = "") -> str:
        """URL of DATABASE on this cluster; DRIVER='psycopg' gives ``postgresql+psycopg://...``."""
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{user or self.user}@{self.host}:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self._running

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*(["runuser", "-u", "postgres", "--"] if self.as_postgres else []), *args]
        # cwd: the postgres user may not be allowed into the caller's working directory.
        result = subprocess.run(
            cmd, cwd=self.base_dir, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if check and result.returncode != 0:
            raise PrivatePGError(
                f"`{' '.join(args[:2])} ...` failed with code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\n"
                f"server log {self.log_path}:\n{log_tail(self.log_path)}"
            )
        return result

    def start(self) -> None:
        """Start the server and wait until it accepts connections (no-op when running)."""
        if self._running:
            return
        self._run(
            str(self.bindir / "pg_ctl"), "start", "-D", str(self.data_dir), "-l", str(self.log_path),
            "-w", "-t", str(START_TIMEOUT_S), "-o", f"-p {self.port} -k {self.socket_dir}",
        )
        self._running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: MODE 'fast' (clean), 'immediate' (like a crash) or 'smart'."""
        if mode not in ("fast", "immediate", "smart"):
            raise ValueError(f"stop mode must be fast, immediate or smart, got {mode!r}")
        if not self._running:
            return
        self._run(str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", mode, "-w")
        self._running = False

    def restart(self, mode: str = "fast") -> None:
        """Stop (with MODE) and start again on the same port."""
        self.stop(mode)
        self.start()


def _base_dir() -> Path:
    # Always under the system temp dir, not pytest's tmp_path: pytest's folders are private
    # to the current user (postgres cannot enter them) and too deep for a unix socket path.
    return Path(tempfile.mkdtemp(prefix="aion-pg-"))


@contextlib.contextmanager
def private_postgres(tmp_dir: Path | None = None) -> Iterator[PrivatePG]:
    """Create, start and yield a private cluster; stop and delete it on exit.

    TMP_DIR, when given, receives a copy of the server log (``postgres.log``) at exit, for
    post-mortems. Raises PrivatePGError with the log tail when the cluster cannot start.
    """
    bindir = _bindir()
    as_postgres = os.geteuid() == 0
    base = _base_dir()
    (base / "sock").mkdir()
    if as_postgres:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            raise PrivatePGError(
                "running as root but there is no `postgres` OS user to run the cluster"
            ) from None
        for path in (base, base / "sock"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    (port,) = free_ports(1)
    pg = PrivatePG(port=port, base_dir=base, bindir=bindir, as_postgres=as_postgres)
    try:
        pg._run(
            str(bindir / "initdb"), "-D", str(pg.data_dir), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )
        conf = pg.data_dir / "postgresql.conf"
        with open(conf, "a", encoding="utf-8") as handle:
            handle.write("\n# aion private test cluster\n")
            handle.write(f"port = {port}\n")
            handle.write(f"unix_socket_directories = '{pg.socket_dir}'\n")
            for name, value in _SETTINGS.items():
                handle.write(f"{name} = {value}\n")
        pg.start()
        yield pg
    finally:
        with contextlib.suppress(PrivatePGError):
            if pg.running:
                pg.stop("immediate")
        if tmp_dir is not None and pg.log_path.exists():
            with contextlib.suppress(OSError):
                Path(tmp_dir).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(pg.log_path, Path(tmp_dir) / "postgres.log")
        shutil.rmtree(base, ignore_errors=True)
