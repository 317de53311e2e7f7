"""Protects: the import rule of the layout (``shared/design/layout.md``) and the absence of import cycles.

Layers, lowest first: ``core`` imports nothing of ours; ``memory`` and ``registry`` import only
``core`` (never each other); ``seal`` may import memory, registry and core; ``serving`` imports
registry, ``memory.client``, ``seal.training`` and core; the composition roots (``app``, ``asgi``,
``definitions``, ``runs``, ``worker``, ``cli``, ``demo``) import anything. ``review_app`` talks to the APIs
through the clients and may read the torch-free ``seal.evaluation.report``. Every import counts,
also those inside functions and under ``TYPE_CHECKING``: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "aion_assets"

#: layer -> the module prefixes it may import (its own layer is always allowed).
ALLOWED: dict[str, tuple[str, ...]] = {
    "core": (),
    "memory": ("aion_assets.core",),
    "registry": ("aion_assets.core",),
    "seal": ("aion_assets.core", "aion_assets.memory", "aion_assets.registry"),
    "serving": (
        "aion_assets.core",
        "aion_assets.registry",
        "aion_assets.memory.client",
        "aion_assets.memory.models",
        "aion_assets.seal.training",
    ),
    "review_app": (
        "aion_assets.core",
        "aion_assets.memory.client",
        "aion_assets.memory.models",
        "aion_assets.registry.client",
        "aion_assets.registry.evaluation",
        "aion_assets.registry.http_client",
        "aion_assets.registry.models",
        "aion_assets.seal.evaluation.report",
    ),
}
ROOTS = {"app", "asgi", "definitions", "runs", "worker", "cli", "demo", "__init__"}


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of PATH under ROOT (``pkg/__init__.py`` is ``pkg``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in PATH, relative imports resolved against MODULE."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")
                drop = node.level - (1 if is_pkg else 0)
                parent = parent[: len(parent) - drop] if drop else parent
                base = ".".join([*parent, base] if base else parent)
            yield node.lineno, base
            for alias in node.names:  # ``from aion_assets.memory import store`` names a module
                yield node.lineno, f"{base}.{alias.name}"


def layer_of(module: str) -> str | None:
    """The layer a module belongs to (None for the composition roots)."""
    parts = module.split(".")
    if parts[0] == "review_app":
        return "review_app"
    if len(parts) < 2 or parts[1] in ROOTS:
        return None
    return parts[1]


def _known(name: str, modules: set[str]) -> str | None:
    """NAME if it is one of our modules (or a package of ours), else the longest of ours it starts with."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def violations(root: Path) -> list[str]:
    """Every forbidden edge under ROOT as ``file:line: a imports b (layer may not import that)``."""
    files = sorted([*(root / PACKAGE).rglob("*.py"), *(root / "review_app").rglob("*.py")])
    modules = {module_name(f, root) for f in files}
    out: list[str] = []
    for f in files:
        mod = module_name(f, root)
        layer = layer_of(mod)
        if layer is None:
            continue
        own = f"{PACKAGE}.{layer}" if layer != "review_app" else "review_app"
        allowed = (own, *ALLOWED.get(layer, ()))
        for line, name in imports_of(f, mod):
            target = _known(name, modules)
            if target is None or target == PACKAGE:
                continue
            if not any(target == a or target.startswith(a + ".") for a in allowed):
                out.append(f"{f.relative_to(root)}:{line}: {mod} imports {target} ({layer} may not)")
    return sorted(set(out))


def cycles(root: Path) -> list[list[str]]:
    """Import cycles between modules of the package (module-level and lazy imports alike)."""
    files = sorted((root / PACKAGE).rglob("*.py"))
    modules = {module_name(f, root) for f in files}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for f in files:
        mod = module_name(f, root)
        for _, name in imports_of(f, mod):
            target = _known(name, modules)
            # importing a package runs its __init__ only; submodules are edges of their own
            if target and target != mod and target != PACKAGE:
                graph[mod].add(target)
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


def test_no_forbidden_import() -> None:
    problems = violations(ROOT)
    assert not problems, "forbidden imports:\n" + "\n".join(problems)


def test_no_import_cycle() -> None:
    found = cycles(ROOT)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("aion_assets/core/planted.py", "from aion_assets.memory.store import MemoryStore\n", "core may not"),
        ("aion_assets/memory/planted.py", "def f():\n    import aion_assets.seal.refs\n", "memory may not"),
        ("aion_assets/memory/planted.py", "from aion_assets.registry import planted_reg\n", "memory may not"),
        ("aion_assets/seal/planted.py", "from aion_assets import definitions\n", "seal may not"),
        ("review_app/planted.py", "from aion_assets.memory.store import MemoryStore\n", "review_app may not"),
    ],
)
def test_planted_forbidden_import_is_named(tmp_path: Path, path: str, source: str, expected: str) -> None:
    """A copy of the tree with one planted forbidden import fails, and the message names the edge."""
    for sub in ("aion_assets", "review_app"):
        for f in (ROOT / sub).rglob("*.py"):
            dest = tmp_path / f.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(f.read_text())
    (tmp_path / "aion_assets/registry/planted_reg.py").write_text("X = 1\n")
    planted = tmp_path / path
    planted.write_text(textwrap.dedent(source))
    problems = violations(tmp_path)
    assert any(p.startswith(path) and expected in p for p in problems), problems


def test_planted_cycle_is_found(tmp_path: Path) -> None:
    pkg = tmp_path / "aion_assets" / "core"
    pkg.mkdir(parents=True)
    (tmp_path / "aion_assets" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from aion_assets.core import b\n")
    (pkg / "b.py").write_text("def f():\n    from aion_assets.core.a import x\n")
    assert cycles(tmp_path) == [["aion_assets.core.a", "aion_assets.core.b", "aion_assets.core.a"]]
