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
import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pytest

import rota
from rota import App, PayloadError
from rota._serde import MsgspecCodec, PydanticCodec, codec_for
from rota.stores import _resources

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


# -- what a running worker loads ------------------------------------------------------------------
#
# Every module costs resident memory in every worker process (pydantic ~9 MB, rich ~3 MB,
# importlib.resources with zipfile ~1 MB): rota's worker path imports only what its store and
# its tasks use; the rest is imported where it is used (docs/benchmarks.md, issue #16).

#: never loaded by a worker that does not ask for them: the optional extras, the CLI's tables,
#: and rota's own modules for the endpoints, the dashboard and tracing
NOT_IN_A_WORKER = (
    "rich", "pydantic", "pydantic_core", "fastapi", "starlette", "uvicorn", "jinja2",
    "prometheus_client", "django", "httpx", "sqlalchemy", "psycopg",
    "rota.web", "rota.http", "rota.metrics", "rota._otel", "rota.contrib",
)  # fmt: skip
#: each store's driver, loaded by a worker of that store only
DRIVERS = {
    "sqlite": (),
    "postgres": ("asyncpg",),
    "redis": ("redis", "hiredis"),
    "mongodb": ("pymongo", "bson"),
}
STORES = {
    "sqlite": "sqlite",
    "postgres": "postgres",
    "postgresql": "postgres",
    "redis": "redis",
    "mongodb": "mongodb",
}
#: standard library modules neither rota's worker nor the SQLite store needs (redis-py and
#: pymongo import some: importlib.metadata; argparse brings shutil, bz2 and lzma)
STDLIB_EXTRAS = ("importlib.resources", "importlib.metadata", "zipfile", "tempfile")

WORKER_APP = """
import json, os, signal, sys
from dataclasses import dataclass

from rota import App

app = App(os.environ["PROBE_STORE"])


@dataclass
class Order:
    number: int


@app.task(name="probe")
async def probe(order: Order) -> None:
    with open(os.environ["PROBE_OUT"], "w") as out:
        json.dump(sorted(sys.modules), out)
    os.kill(os.getpid(), signal.SIGTERM)  # the worker stops as it would in production
"""


@dataclass
class Order:
    number: int


def loaded(modules: Collection[str], names: Collection[str]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.mark.slow
async def test_a_worker_loads_neither_extras_nor_other_stores_drivers(
    shared_url: str, tmp_path: Path
) -> None:
    # a real `rota worker` process runs one job whose handler writes down sys.modules
    store = STORES[shared_url.split(":", 1)[0]]
    app = App(shared_url)

    @app.task(name="probe")
    async def probe(order: Order) -> None: ...

    try:
        await probe.enqueue(Order(7))
    finally:
        await app.close()
    (tmp_path / "probe_app.py").write_text(WORKER_APP, encoding="utf-8")
    out = tmp_path / "modules.json"
    here = os.path.dirname(os.path.dirname(rota.__file__))  # the worker runs the rota tested here
    path = os.pathsep.join([str(tmp_path), here])
    env = {**os.environ, "PYTHONPATH": path, "PROBE_STORE": shared_url, "PROBE_OUT": str(out)}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "rota", "worker", "probe_app:app"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(out.read_text(encoding="utf-8")))
    assert "rota.runtime.worker" in modules and f"rota.stores.{store}" in modules  # it looked
    others = [d for name, drivers in DRIVERS.items() if name != store for d in drivers]
    assert loaded(modules, [*NOT_IN_A_WORKER, *others]) == []
    if store == "sqlite":
        assert loaded(modules, STDLIB_EXTRAS) == []


def test_the_modules_a_worker_leaves_out_are_installed_here() -> None:
    # the test above can fail only for modules that exist: the dev install has them all
    for name in ("rich", "pydantic", "fastapi", "jinja2", "prometheus_client", "asyncpg", "redis", "pymongo"):
        assert importlib.util.find_spec(name) is not None, name


def test_pydantic_models_are_still_told_apart_from_other_payloads() -> None:
    # the codec checks sys.modules for pydantic instead of importing it: a model's payload
    # still goes through pydantic (validated at enqueue, decoded into the model)
    from pydantic import BaseModel

    class Parcel(BaseModel):
        weight: int

    assert isinstance(codec_for(Parcel), PydanticCodec)
    assert isinstance(codec_for(Order), MsgspecCodec)
    assert isinstance(codec_for(int), MsgspecCodec)
    codec = codec_for(Parcel)
    assert codec.decode(codec.encode(Parcel(weight=3))) == Parcel(weight=3)
    with pytest.raises(PayloadError, match="Parcel"):
        codec.encode({"weight": "heavy"})


def test_resources_are_read_from_a_zipped_package_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a package on disk is read directly; one inside a zip through importlib.resources
    package = f"zipped_{uuid.uuid4().hex[:8]}"
    archive = tmp_path / "pkg.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"{package}/__init__.py", "")
        z.writestr(f"{package}/queries/jobs.sql", "-- name: one\nSELECT 1;\n-- name: two\nSELECT 2;\n")
        z.writestr(f"{package}/migrations/0001_first.sql", "CREATE TABLE a (x);")
        z.writestr(f"{package}/migrations/0002_second.sql", "CREATE TABLE b (y);")
    monkeypatch.syspath_prepend(str(archive))
    try:
        assert _resources.queries(package, "jobs") == {"one": "SELECT 1", "two": "SELECT 2"}
        assert [(m.version, m.sql) for m in _resources.migrations(package)] == [
            (1, "CREATE TABLE a (x);"), (2, "CREATE TABLE b (y);"),
        ]  # fmt: skip
    finally:
        sys.modules.pop(package, None)
    on_disk = _resources.files("rota.stores.sqlite")
    assert isinstance(on_disk, Path) and (on_disk / "queries" / "jobs.sql").is_file()
