"""SQLite backend for the shared fixtures: a fresh database file in pytest's tmp_path.

No server to start: SQLite is part of Python. ``connect`` opens another ``SQLiteStore``
(its own connection and thread) on the same file, as another process would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rota.stores.base import Store
from rota.stores.sqlite import SQLiteStore
from rota.testing import FakeClock
from rota.testing.conformance import Harness


@pytest.fixture
async def sqlite_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    path = tmp_path / "rota.db"
    store = SQLiteStore(path)
    await store.open()

    async def connect() -> Store:
        other = SQLiteStore(path)
        await other.open()
        return other

    harness = Harness(
        store=store, clock=FakeClock(), connect=connect, multiprocess=True, unopened=lambda: SQLiteStore(path)
    )
    try:
        yield harness
    finally:
        await harness.aclose()
        await store.close()
