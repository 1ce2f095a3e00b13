"""rota's import graph: no circles, and each layer imports only the layers beneath it.

The layers (docs/architecture.md draws them), top to bottom::

    public API       rota, rota._app, rota._task, rota._schedules, rota.sync, rota.cli.*, rota.__main__,
                     rota._workflows, rota.metrics, rota.http (the optional extras' modules),
                     rota.contrib.* (the framework glue: clients of the public API, like the CLI)
    runtime          rota.runtime.*                (takes a RuntimeContext, never the App)
    backends         rota.stores.<backend>.*       (never the runtime, never the App)
    store interface  rota.stores, rota.stores.base, rota.stores.url, rota.stores._* (shared by
                     every backend: parts, checks, codec, resources, salvage)
    core             models, errors, signals, clock, ids, limits, convert, serde, retry,
                     events, logs, rota.triggers.*

Every import statement in src/rota counts: at module level, inside functions, and under
``TYPE_CHECKING``. What an AST cannot see, and need not: ``rota.stores.url`` imports the
backends by name (``importlib``) only when their URL is used, so that optional dependencies
stay optional; that is a downward edge and cannot close a circle through anything above.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

CORE = "core"
INTERFACE = "store interface"
BACKENDS = "backends"
RUNTIME = "runtime"
API = "public API"
TESTING = "testing"

#: what each layer may import (besides itself)
ALLOWED = {
    CORE: set(),
    INTERFACE: {CORE},
    BACKENDS: {CORE, INTERFACE},
    RUNTIME: {CORE, INTERFACE},
    API: {CORE, INTERFACE, RUNTIME},
    TESTING: {CORE, INTERFACE, BACKENDS, RUNTIME, API},
}
_INTERFACE = {"rota.stores", "rota.stores.base", "rota.stores.url", "rota.stores._salvage"}
_API = {
    "rota", "rota.__main__", "rota._app", "rota._task", "rota._schedules", "rota.sync", "rota.metrics",
    "rota.http", "rota._workflows",
}  # fmt: skip


def layer(module: str) -> str:
    if module in _INTERFACE or re.fullmatch(r"rota\.stores\._\w+", module):
        return INTERFACE  # what every backend shares: contract, parts, checks, codec, resources
    if module in _API or module.startswith(("rota.cli", "rota.web", "rota.contrib")):
        return API
    for prefix, name in (
        ("rota.runtime", RUNTIME), ("rota.stores", BACKENDS), ("rota.testing", TESTING),
    ):  # fmt: skip
        if module == prefix or module.startswith(prefix + "."):
            return name
    return CORE


def modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(module: str, source: str, known: Collection[str], *, package: bool = False) -> set[str]:
    """The rota modules ``module`` (a package's ``__init__`` when ``package``) imports
    anywhere in ``source`` (``from a import b`` names the submodule ``a.b`` when there is
    one, else ``a``); ``known`` are rota's modules."""

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    here = module if package else module.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(resolve(a.name) for a in node.names if a.name.split(".")[0] == "rota")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.split(".")[0] != "rota":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else resolve(base))
    found.discard(None)
    found.discard(module)
    return {m for m in found if m is not None}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {
        m: imports(m, p.read_text(encoding="utf-8"), known, package=p.name == "__init__.py")
        for m, p in known.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_walk_sees_every_kind_of_import(graph: dict[str, set[str]]) -> None:
    # module level, inside a function, under TYPE_CHECKING, relative: a walk that missed
    # one of these would pass the tests below without looking
    known = {"rota", "rota.a", "rota.b", "rota.c", "rota.d", "rota.x"}
    source = (
        "from typing import TYPE_CHECKING\nimport rota.a\nif TYPE_CHECKING:\n    from rota import b\n"
        "def f():\n    from rota.c import thing\nfrom . import d\nimport os\n"
    )
    assert imports("rota.x", source, known) == {"rota.a", "rota.b", "rota.c", "rota.d"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "rota.runtime.worker" in graph and "rota._app" in graph


def test_no_module_imports_another_that_imports_it_back(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_each_layer_imports_only_the_layers_beneath_it(graph: dict[str, set[str]]) -> None:
    wrong = sorted(
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module, targets in graph.items()
        for target in targets
        if layer(target) != layer(module) and layer(target) not in ALLOWED[layer(module)]
    )
    assert wrong == []


def test_the_layers_cover_what_they_claim() -> None:
    assert layer("rota._app") == API and layer("rota.cli.worker") == API and layer("rota") == API
    assert layer("rota.contrib.django.apps") == API and layer("rota.contrib.starlette") == API
    assert layer("rota.runtime.worker") == RUNTIME and layer("rota.runtime") == RUNTIME
    assert layer("rota.stores.base") == INTERFACE and layer("rota.stores.url") == INTERFACE
    assert layer("rota.stores.redis._jobs") == BACKENDS and layer("rota.stores.memory") == BACKENDS
    assert layer("rota._models") == CORE and layer("rota.triggers._cron") == CORE
    assert layer("rota.testing.conformance") == TESTING
