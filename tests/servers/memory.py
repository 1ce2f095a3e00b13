"""The memory backend for the conformance suite: nothing to start, a fresh store per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rota.stores.base import Store
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock
from rota.testing.conformance import Harness


@pytest.fixture
async def memory_harness() -> AsyncIterator[Harness]:
    store = MemoryStore()
    await store.open()

    async def connect() -> Store:
        return store  # one process, one store: every "connection" is the same instance

    harness = Harness(
        store=store, clock=FakeClock(), connect=connect, multiprocess=False, unopened=MemoryStore
    )
    yield harness
    await harness.aclose()
    await store.close()
