"""Protects: routes declare what they need as typed FastAPI dependencies instead of reading ``app.state``.

Outside the composition roots (``app``, ``asgi``, ``definitions``, ``runs``, ``cli``, ``demo``),
``app.state`` may be read only inside a provider: a module-level function whose one parameter is
the ``Request``, which reads ``app.state`` exactly once and is used somewhere as ``Depends(provider)``.
A route body or helper that reaches into ``app.state`` fails this test, naming the file and line.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TypeGuard

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "aion_assets"
ROOTS = {"app.py", "asgi.py", "definitions.py", "runs.py", "cli", "demo"}


def _is_app_state(node: ast.AST) -> TypeGuard[ast.Attribute]:
    """``<anything>.app.state`` or ``app.state``."""
    if not (isinstance(node, ast.Attribute) and node.attr == "state"):
        return False
    owner = node.value
    return (isinstance(owner, ast.Attribute) and owner.attr == "app") or (
        isinstance(owner, ast.Name) and owner.id == "app"
    )


def _depends_names(tree: ast.AST) -> set[str]:
    """Names passed as the first argument of ``Depends(...)`` in TREE."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called == "Depends":
                names.add(node.args[0].id)
    return names


def _takes_only_the_request(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = func.args
    every = args.posonlyargs + args.args + args.kwonlyargs
    if len(every) != 1 or args.vararg or args.kwarg:
        return False
    annotation = every[0].annotation
    return annotation is not None and ast.unparse(annotation).split(".")[-1] in {"Request", "HTTPConnection"}


def violations(sources: dict[str, str]) -> Iterator[str]:
    """``path:line: why`` for every read of ``app.state`` outside a provider, in SOURCES (path -> text)."""
    trees = {path: ast.parse(text, filename=path) for path, text in sources.items()}
    used_as_dependency = set().union(*(_depends_names(tree) for tree in trees.values()))
    for path, tree in trees.items():
        for top in tree.body:
            reads = [node for node in ast.walk(top) if _is_app_state(node)]
            for node in reads:
                where = f"{path}:{node.lineno}"
                if not isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{where}: app.state read outside a function (module level or in a class)"
                elif not _takes_only_the_request(top):
                    yield f"{where}: app.state read in {top.name}(), which is not a provider (one Request parameter)"
                elif len(reads) != 1:
                    yield f"{where}: provider {top.name}() reads app.state {len(reads)} times (one place each)"
                elif top.name not in used_as_dependency:
                    yield f"{where}: {top.name}() reads app.state but is never used as Depends({top.name})"


def package_sources() -> dict[str, str]:
    """Every module of the package outside the composition roots, by path relative to the checkout."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in ROOTS:
            continue
        found[str(path.relative_to(ROOT))] = path.read_text()
    return found


def test_no_app_state_outside_the_providers() -> None:
    problems = list(violations(package_sources()))
    assert not problems, "read app.state through a typed provider dependency:\n" + "\n".join(problems)


def test_the_providers_are_found() -> None:
    # A checker that silently finds nothing would pass the test above forever.
    sources = package_sources()
    readers = {
        path
        for path, text in sources.items()
        if any(_is_app_state(node) for node in ast.walk(ast.parse(text)))
    }
    assert {"aion_assets/core/http.py", "aion_assets/memory/api.py", "aion_assets/registry/dependencies.py"} <= readers


def test_a_route_body_reading_app_state_is_named_with_its_line() -> None:
    route = textwrap.dedent(
        """
        from fastapi import Depends, Request

        async def store(request: Request) -> object:
            return request.app.state.store

        async def two_reads(request: Request) -> object:
            return (request.app.state.a, request.app.state.b)

        async def unused(request: Request) -> object:
            return request.app.state.c

        def route(request: Request, s=Depends(store), t=Depends(two_reads)) -> object:
            return request.app.state.metrics

        LIMIT = app.state.limit
        """
    )
    found = list(violations({"pkg/api.py": route}))
    assert found == [
        "pkg/api.py:8: provider two_reads() reads app.state 2 times (one place each)",
        "pkg/api.py:8: provider two_reads() reads app.state 2 times (one place each)",
        "pkg/api.py:11: unused() reads app.state but is never used as Depends(unused)",
        "pkg/api.py:14: app.state read in route(), which is not a provider (one Request parameter)",
        "pkg/api.py:16: app.state read outside a function (module level or in a class)",
    ]
