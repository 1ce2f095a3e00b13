"""Shared fixtures. Store backends come from plugins in tests/servers/, one per backend:
each defines a function-scoped fixture ``<backend>_harness`` that yields a fresh, empty,
opened ``Harness`` (starting its server once per session when needed)."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rota import App
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock
from rota.testing.conformance import Harness

# backend name -> plugin module; a plugin that does not exist yet is simply not collected
_PLUGINS = {
    "memory": "tests.servers.memory",
    "sqlite": "tests.servers.sqlite",
    "postgres": "tests.servers.postgres",
    "redis": "tests.servers.redis",
    "rediscluster": "tests.servers.redis",
    "mongodb": "tests.servers.mongodb",
}
_MARKS = {"postgres": "postgres", "redis": "redis", "rediscluster": "rediscluster", "mongodb": "mongodb"}


def _present(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


pytest_plugins = sorted({m for m in _PLUGINS.values() if _present(m)})


def _has_fixture(name: str) -> bool:
    # read, not import: importing a plugin before pytest registers it defeats assert rewriting
    spec = importlib.util.find_spec(_PLUGINS[name])
    origin = spec.origin if spec else None
    return bool(origin) and f"def {name}_harness(" in Path(origin).read_text(encoding="utf-8")


BACKENDS = [name for name, module in _PLUGINS.items() if _present(module) and _has_fixture(name)]


def _param(name: str) -> object:
    mark = _MARKS.get(name)
    return pytest.param(name, marks=[getattr(pytest.mark, mark)] if mark else [], id=name)


@pytest.fixture(params=[_param(b) for b in BACKENDS])
def harness(request: pytest.FixtureRequest) -> Harness:
    """A fresh store of every backend in turn."""
    h: Harness = request.getfixturevalue(f"{request.param}_harness")
    return h


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def app(clock: FakeClock) -> AsyncIterator[App]:
    """An app on a fresh memory store driven by ``clock`` (modules that need another app
    define their own ``app``)."""
    app = App(store=MemoryStore(), clock=clock, instance_id="w1")
    yield app
    await app.close()


SHARED = [b for b in ("sqlite", "postgres", "redis", "mongodb") if b in BACKENDS]


@pytest.fixture(params=[_param(b) for b in SHARED])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a fresh, empty store that several processes can share, for every such backend."""
    name = uuid.uuid4().hex[:12]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    if request.param == "postgres":
        from tests.servers.postgres import with_query

        return with_query(request.getfixturevalue("postgres_server").url, schema=f"mp_{name}")
    if request.param == "redis":
        from tests.servers.redis import with_prefix

        return with_prefix(request.getfixturevalue("redis_url"), f"mp{name}")
    from tests.servers.mongodb import database_url

    return database_url(request.getfixturevalue("mongodb_server"), f"mp_{name}")
