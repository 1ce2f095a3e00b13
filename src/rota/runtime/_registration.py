"""A worker's entry in the store's registry of live workers (``rota workers``).

The worker registers when it starts and refreshes its entry at the heartbeat interval, in a
loop of its own (a slow registry write never holds up the lease heartbeats); the entry's ttl
is three intervals, so a worker that crashed or lost its store drops out of the listing. A
stopping worker removes its entry, giving up at its shutdown bound (the entry expires anyway).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from rota._clock import Clock
from rota._models import WorkerInfo
from rota.runtime.resilience import OUTAGES
from rota.stores.base import Store

log = logging.getLogger("rota.worker")


class Registration:
    """Keeps ``describe()`` registered under its id every ``interval`` seconds."""

    def __init__(
        self, store: Store, clock: Clock, describe: Callable[[], WorkerInfo], interval: float
    ) -> None:
        self._store = store
        self._clock = clock
        self._describe = describe
        self._interval = interval
        self._ttl = timedelta(seconds=3 * interval)
        #: the last write of the entry succeeded (readiness: ``rota workers`` lists this worker)
        self.registered = False

    async def run(self) -> None:
        """Register, then refresh until cancelled; a failure is an outage to log, not an error."""
        site = object()
        try:
            while True:
                try:
                    await self._store.register_worker(self._describe(), ttl=self._ttl, now=self._clock.now())
                except Exception as exc:
                    self.registered = False
                    OUTAGES.failed(site, "worker registration", exc)
                else:
                    self.registered = True
                    OUTAGES.recovered(site, "worker registration")
                await self._clock.sleep(self._interval)
        finally:
            OUTAGES.forget(site)

    async def remove(self, worker_id: str, until: float) -> None:
        """Remove the entry, giving up at ``until`` (``time.monotonic``)."""
        self.registered = False
        left = until - time.monotonic()
        if left <= 0:
            return
        try:
            async with asyncio.timeout(left):
                await self._store.unregister_worker(worker_id)
        except Exception as exc:
            log.debug("worker %s: registry entry not removed (%s); it expires by itself", worker_id, exc)
