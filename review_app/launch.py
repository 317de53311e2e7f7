"""How the console is started: the `streamlit run` command line (`aion ui` and the browser test use it)."""

from __future__ import annotations

import sys
from pathlib import Path

#: The console's entry script.
APP_SCRIPT = Path(__file__).resolve().parent / "streamlit_app.py"
#: Streamlit options of a served console: loopback unless told otherwise, no telemetry, no file
#: watcher, no "Deploy" menu, a blue primary colour (the default red reads as "danger" on Approve),
#: and no "magic": the pages call st.* explicitly, and magic's ast.parse of every page script can
#: fail on CPython 3.11 while another thread parses too ("AST constructor recursion depth
#: mismatch", python/cpython#106905), which a CI run of the console's tests hit.
OPTIONS = {
    "runner.magicEnabled": "false",
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",
    "theme.primaryColor": "#1d4ed8",
}


def streamlit_command(host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The command that serves the console on HOST:PORT with this interpreter."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT), "--server.address", host,
           "--server.port", str(port)]
    for name, value in OPTIONS.items():
        cmd += [f"--{name}", value]
    return cmd
