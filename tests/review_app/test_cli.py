"""Protects: the console's commands as an operator runs them.

- ``aion console-user add`` stores a scrypt hash (never the password) with the user's tenants and
  roles in a 0600 file, and refuses a malformed grant or an unknown role with the option named;
- ``aion ui`` starts the Dagster UI and the reviewer console side by side on 127.0.0.1, prints both
  addresses, both answer, and stopping it stops both.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from aion_assets.cli import _register, main
from aion_assets.core.auth import Role
from review_app.auth import UserDirectory
from tests.conftest import Database
from tests.support import free_ports, log_tail

from .conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def test_console_user_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register()
    users = tmp_path / "users.yaml"
    monkeypatch.setenv("AION_CONSOLE_USERS", str(users))
    runner = CliRunner()
    done = runner.invoke(main, ["console-user", "add", "--username", "alice", "--tenant", "acme:reviewer",
                                "--tenant", "globex:reader", "--password", PASSWORD])
    assert done.exit_code == 0, done.output
    assert PASSWORD not in users.read_text() and "scrypt$" in users.read_text()
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    user = UserDirectory.load(users).authenticate("alice", PASSWORD)
    assert user.grants == {"acme": frozenset({Role.reviewer}), "globex": frozenset({Role.reader})}
    bad = runner.invoke(main, ["console-user", "add", "--username", "bob", "--tenant", "acme", "--password", PASSWORD])
    assert bad.exit_code == 2 and "--tenant" in bad.output
    assert "bob" not in UserDirectory.load(users).users


@pytest.mark.slow
def test_aion_ui_serves_dagster_and_the_console(tmp_path: Path, sqlite_database: Database) -> None:
    dagster_port, console_port = free_ports(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AION_", "DAGSTER_"))}
    env.update({"AION_HOME": str(tmp_path / "aion"), "AION_DATABASE_URL": sqlite_database.url,
                "AION_ARTIFACTS_URI": (tmp_path / "artifacts").as_uri(), "PYTHONPATH": str(ROOT),
                "HF_HUB_OFFLINE": "1"})
    log = tmp_path / "aion-ui.log"
    code = (f"from aion_assets.cli.pipeline import ui; ui(['--port', '{dagster_port}', "
            f"'--console-port', '{console_port}', '--api-url', 'http://127.0.0.1:9'])")
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    up = {"console": False, "dagster": False}
    try:
        deadline = time.monotonic() + 240
        while not all(up.values()) and time.monotonic() < deadline:
            assert proc.poll() is None, f"aion ui exited with {proc.returncode}:\n{log_tail(log)}"
            with contextlib.suppress(httpx.HTTPError):
                up["console"] = up["console"] or httpx.get(
                    f"http://127.0.0.1:{console_port}/_stcore/health", timeout=5).text == "ok"
                up["dagster"] = up["dagster"] or httpx.get(
                    f"http://127.0.0.1:{dagster_port}/server_info", timeout=5).status_code == 200
            time.sleep(1)
        assert all(up.values()), f"{up}\n{log_tail(log)}"
        text = log.read_text()
        assert f"Dagster UI:       http://127.0.0.1:{dagster_port}" in text
        assert f"Reviewer console: http://127.0.0.1:{console_port} (calls the API at http://127.0.0.1:9)" in text
        proc.send_signal(signal.SIGINT)  # Ctrl-C: both are stopped
        assert proc.wait(timeout=60) == 130
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{console_port}/_stcore/health", timeout=2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_supervisor_stops_its_servers_on_ctrl_c_and_sigterm(tmp_path: Path, signum: int, status: int) -> None:
    """`aion ui`'s supervisor, started with SIGINT ignored (as a non-interactive shell starts a background
    job, and as a test runner may pass it on): Ctrl-C and SIGTERM still stop both children and exit 128+N."""
    pids = tmp_path / "pids"
    code = (
        "import signal, subprocess, sys\n"
        "from aion_assets.cli.pipeline import _supervise\n"
        "procs = [subprocess.Popen(['sleep', '600']) for _ in range(2)]\n"
        f"open({str(pids)!r}, 'w').write(' '.join(str(p.pid) for p in procs))\n"
        "sys.exit(_supervise(procs))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 30
        while not (pids.exists() and pids.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        children = [int(pid) for pid in pids.read_text().split()]
        time.sleep(0.6)  # in the supervisor's loop
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == status
        for child in children:
            with pytest.raises(ProcessLookupError):
                os.kill(child, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
