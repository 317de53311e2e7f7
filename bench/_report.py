"""Write one benchmark's section into docs/benchmarks.md.

Each benchmark owns a section between ``<!-- bench:NAME:start -->`` and
``<!-- bench:NAME:end -->`` markers; running it again replaces only that section,
so benchmarks can be run in any order and one at a time.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Each section is written by the script in `bench/` it names; re-running a script\n"
    "replaces only its own section. Figures are from the machine named in each section.\n"
)


def machine() -> str:
    """A one-line description of the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == (platform.processor() or platform.machine()):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    # Machines of one name differ (an "AMD EPYC" may have AVX2 only or AVX-512 with bf16): name the ISA.
    isa = [label for flag, label in (("avx512f", "AVX-512"), ("avx512_vnni", "VNNI"), ("avx512_bf16", "AVX512-BF16"),
                                     ("amx_bf16", "AMX")) if flag in flags]
    if isa or "avx2" in flags:
        cpu += "; " + (", ".join(isa) if isa else "AVX2, no AVX-512")
    mem_gib = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem_gib = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}){mem_gib}, Python {platform.python_version()}, {system}"


def _git_rev() -> str:
    """HEAD's short hash, and whether code outside docs/ differed from it (the figures were then
    measured on that uncommitted code, not on the commit)."""
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                                  cwd=DOC.parent).stdout.strip()

        rev = git("rev-parse", "--short", "HEAD")
        dirty = [line for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
                 if not line[3:].startswith("docs/")]
        return f"{rev} with uncommitted changes" if dirty else rev
    except (OSError, subprocess.CalledProcessError):
        return "uncommitted"


def write_section(name: str, title: str, body: str, command: str | None = None) -> None:
    """Replace (or append) the section NAME in docs/benchmarks.md.

    Args:
        name: stable section key, e.g. ``"ingest"``.
        title: the section heading.
        body: markdown with the figures.
        command: how to reproduce; defaults to the current command line.
    """
    command = command or "python " + " ".join(sys.argv)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name}:start -->\n## {title}\n\n"
        f"- command: `{command}`\n- machine: {machine()}\n- run: {stamp}, commit {_git_rev()}\n\n"
        f"{body.strip()}\n<!-- bench:{name}:end -->\n"
    )
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else HEADER
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(DOC)
