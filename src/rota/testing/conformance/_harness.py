"""What a conformance test gets: a fresh empty store, the fake clock it runs on, and a way to
open more connections to the same data (to prove atomicity across connections)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from rota.stores.base import Store
from rota.testing._fake_clock import FakeClock


@dataclass
class Harness:
    store: Store
    clock: FakeClock
    #: Opens (and returns) another store over the same data; the harness closes it.
    #: An in-process store with nothing to connect returns the same instance.
    connect: Callable[[], Awaitable[Store]]
    #: Whether several processes may share this store (False for the memory store).
    multiprocess: bool = True
    #: Builds another store of the same kind without opening it, for the tests of what a
    #: store does before ``open()``; those tests are skipped without it.
    unopened: Callable[[], Store] | None = None
    extra: list[Store] = field(default_factory=list)

    async def another(self) -> Store:
        store = await self.connect()
        if store is not self.store:
            self.extra.append(store)
        return store

    async def aclose(self) -> None:
        for store in self.extra:
            await store.close()
        self.extra.clear()
