"""Leader changes, lease losses and store outages are logged once per transition, never once
per retry: an outage that lasts many renewal and acquire attempts is one warning when it
starts and one line when it ends, whatever loop meets it."""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest

from rota._errors import StoreUnavailable
from rota.runtime.leader import LeaderElection
from rota.stores.base import Store
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock


class Flaky:
    """A store whose calls fail while ``down``."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.down = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name.startswith(("wait_", "notify_")) or name in ("open", "close", "describe"):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise StoreUnavailable("connection refused")
            return await attr(*args, **kwargs)

        return call


async def run(clock: FakeClock, seconds: float) -> None:
    """Move the clock in small steps, so that each loop has sleeping again before the next."""
    for _ in range(round(seconds * 10)):
        await clock.advance(0.1)


async def test_a_long_outage_under_an_election_is_logged_once_each_way(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    memory = MemoryStore()
    await memory.open()
    store = Flaky(memory)
    election = LeaderElection(
        cast("Store", store), clock, "a", ttl=9, renew_interval=3, retry_interval=2, safety_margin=1
    )
    caplog.set_level(logging.DEBUG, logger="rota")
    try:
        await election.start()
        assert election.is_leader
        store.down = True
        await run(clock, 60)  # ~20 renewals and acquires fail; the term ends on the way
        assert not election.is_leader
        store.down = False
        await run(clock, 20)
        assert election.is_leader
    finally:
        await election.stop()
        await memory.close()
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    outage = [m for m in loud if "store unavailable" in m]
    assert len(outage) == 1, loud
    # the rest are the transitions themselves: the term lost locally, once
    assert len(loud) == 2 and "expired locally" in loud[1], loud
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len([m for m in info if "store reachable again" in m]) == 1, info
    # two terms: the first lost in the outage, the second resigned by stop()
    assert len([m for m in info if "no longer leads" in m]) == 2, info
    assert len([m for m in info if " leads " in m and "no longer" not in m]) == 2, info
