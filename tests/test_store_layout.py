"""Every backend package is laid out the same way (docs/stores.md), and backends sit below
the runtime: they import nothing from it, from the App, or from each other.

Same file names for the same roles, so that a contract change is the same edit in each
backend: ``_store.py`` (the store class, composing its parts), ``_jobs.py``,
``_schedules.py``, ``_leases.py``, ``_workers.py`` (the parts), ``_config.py`` (URL -> config class),
``_codec.py`` (the backend's leaves of the shared codec); where a backend needs them,
``_connection.py`` (what its parts share), ``_migrate.py``, ``_wakeups.py``, and resource
folders ``queries/`` (SQL), ``migrations/`` (SQL), ``scripts/`` (Lua).
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

import rota.stores
from rota.stores._codec import Codec
from rota.stores._parts import JobsPart, LeasesPart, SchedulesPart, WorkersPart
from rota.stores.base import Store

STORES = Path(rota.stores.__file__).parent
BACKENDS = {  # package -> the prefix of its class names
    "memory": "Memory",
    "sqlite": "SQLite",
    "postgres": "Postgres",
    "redis": "Redis",
    "mongodb": "Mongo",
}
REQUIRED = {"__init__", "_store", "_jobs", "_schedules", "_leases", "_workers", "_config", "_codec"}
OPTIONAL = {"_connection", "_migrate", "_wakeups"}
# a helper structure that only one backend needs keeps its own file, named for its role
HELPERS = {
    "memory": {"_claim_index"},
    "mongodb": {"_versioned", "_gate", "_deps", "_claim", "_reads"},
    "postgres": {"_external", "_joined"},
    "sqlite": {"_inline", "_claim", "_deps", "_counts"},
}
RESOURCES = {"queries": ".sql", "migrations": ".sql", "scripts": ".lua"}
# what a backend may never import: the runtime and every layer above it
ABOVE = (
    "rota.runtime",
    "rota._app",
    "rota._task",
    "rota._schedules",
    "rota._health",
    "rota.cli",
    "rota.sync",
)
URLS = {
    "memory": "memory://",
    "sqlite": "sqlite:///x.db",
    "postgres": "postgresql://u@127.0.0.1:1/db",
    "redis": "redis://127.0.0.1:1/0",
    "mongodb": "mongodb://127.0.0.1:1/db",
}


def test_the_backends_are_the_packages_of_stores() -> None:
    packages = {p.name for p in STORES.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(BACKENDS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_has_the_same_files_for_the_same_roles(backend: str) -> None:
    folder = STORES / backend
    modules = {p.stem for p in folder.glob("*.py")}
    assert modules >= REQUIRED, f"{backend} lacks {sorted(REQUIRED - modules)}"
    unknown = modules - REQUIRED - OPTIONAL - HELPERS.get(backend, set())
    assert not unknown, f"{backend} has files of no known role: {sorted(unknown)} (see docs/stores.md)"
    for sub in (p for p in folder.iterdir() if p.is_dir() and p.name != "__pycache__"):
        assert sub.name in RESOURCES, f"{backend}/{sub.name}/ is not a resource folder"
        assert {f.suffix for f in sub.iterdir()} == {RESOURCES[sub.name]}, f"{backend}/{sub.name}/"
    stray = [p.name for p in folder.iterdir() if p.suffix in (".sql", ".lua")]
    assert not stray, f"{backend}: resources outside their folder: {stray}"


@pytest.mark.parametrize(("backend", "prefix"), BACKENDS.items())
def test_every_backend_exports_a_store_a_config_and_from_url(backend: str, prefix: str) -> None:
    package = importlib.import_module(f"rota.stores.{backend}")
    assert {f"{prefix}Store", f"{prefix}Config", "from_url"} <= set(package.__all__)
    store, config = getattr(package, f"{prefix}Store"), getattr(package, f"{prefix}Config")
    assert store.__mro__[1:] == Store.__mro__, "a store class composes parts, it inherits no mixins"
    assert inspect.ismethod(config.from_url)  # a classmethod: the one way from a URL to a config
    built = package.from_url(URLS[backend])
    assert isinstance(built, store)
    assert isinstance(built.config, config)


@pytest.mark.parametrize(
    ("role", "part"),
    [("_jobs", JobsPart), ("_schedules", SchedulesPart), ("_leases", LeasesPart), ("_workers", WorkersPart)],
)
@pytest.mark.parametrize(("backend", "prefix"), BACKENDS.items())
def test_each_part_lives_in_the_file_of_its_role(backend: str, prefix: str, role: str, part: type) -> None:
    module = importlib.import_module(f"rota.stores.{backend}.{role}")
    name = f"{prefix}{part.__name__.removesuffix('Part')}"
    found = getattr(module, name, None)
    assert isinstance(found, type), f"{module.__name__} defines no {name}"
    assert issubclass(found, part)
    assert not inspect.isabstract(found)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "memory"])  # memory keeps the objects
def test_the_codec_file_holds_the_backends_codecs(backend: str) -> None:
    module = importlib.import_module(f"rota.stores.{backend}._codec")
    for name in ("JOBS", "ATTEMPTS", "SCHEDULES", "LEASES"):
        assert isinstance(getattr(module, name, None), Codec), f"{module.__name__}.{name}"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (lazy and TYPE_CHECKING imports too)."""
    package = "rota." + ".".join(path.relative_to(STORES.parent).with_suffix("").parts[:-1])
    return _imports_in(path.read_text("utf-8"), package)


def _imports_in(source: str, package: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package, up level - 1
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*anchor, node.module or ""]).strip("."))
            else:
                found.add(node.module or "")
    return found


def _store_modules() -> list[Path]:
    return sorted(STORES.rglob("*.py"))


@pytest.mark.parametrize("path", _store_modules(), ids=lambda p: str(p.relative_to(STORES)))
def test_stores_import_nothing_above_them_and_backends_not_each_other(path: Path) -> None:
    imported = _imports(path)
    above = sorted(m for m in imported if m == "rota" or m.startswith(ABOVE))
    assert not above, f"{path.relative_to(STORES)} imports {above}"
    parts = path.relative_to(STORES).parts
    own = parts[0] if len(parts) > 1 else None
    others = sorted(
        m
        for m in imported
        for b in BACKENDS
        if b != own and (m == f"rota.stores.{b}" or m.startswith(f"rota.stores.{b}."))
    )
    if path.name != "url.py" or own is not None:  # url.py names backends as strings only
        assert not others, f"{path.relative_to(STORES)} imports {others}"


def test_the_layering_check_sees_imports() -> None:
    """The walk above finds plain, relative, lazy and TYPE_CHECKING imports (so that its
    silence means something)."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import _codec\n"
        "from .._parts import JobsPart\n"
        "if TYPE_CHECKING:\n    from rota.runtime.worker import Worker\n"
        "def lazy() -> None:\n    import rota._app\n"
    )
    found = _imports_in(source, "rota.stores.memory")
    assert {"rota.stores.memory", "rota.stores._parts", "rota.runtime.worker", "rota._app"} <= found
    memory = _imports(STORES / "memory" / "_schedules.py")
    assert "rota.stores._parts" in memory
    assert "rota._models" in _imports(STORES / "base.py")
