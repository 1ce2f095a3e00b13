"""Ended jobs: ``watch_ended`` hears finishes and cancellations (other processes' too on the
stores that say ``hears_ended``), which ``app.result`` and a worker told to abort rely on."""

from __future__ import annotations

import asyncio

from rota._models import Finish, Outcome
from rota.stores.base import Store
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import add, claim_one, make_job

# real seconds; only reached when a promised wake-up is missing (the test then fails)
WAIT = 5.0


class Heard:
    """What a ``watch_ended`` callback was called with, in order."""

    def __init__(self, store: Store) -> None:
        self.ids: list[str | None] = []
        self._changed = asyncio.Event()
        self.stop = store.watch_ended(self._heard)

    def _heard(self, job_id: str | None) -> None:
        self.ids.append(job_id)
        self._changed.set()

    async def wait_for(self, *wanted: str | None) -> None:
        """Until every one of ``wanted`` was heard (None: an unnamed "some ended")."""
        async with asyncio.timeout(WAIT):
            while not all(w in self.ids for w in wanted):
                self._changed.clear()
                await self._changed.wait()


class JobsEnded:
    async def test_final_finish_and_cancel_are_heard_with_their_ids_here(self, harness: Harness) -> None:
        store = harness.store
        heard = Heard(store)
        done, retried = make_job(harness, priority=1), make_job(harness, max_attempts=2)
        pending = make_job(harness, delay=60)
        await add(harness, done, retried, pending)
        a, b = await claim_one(harness), await claim_one(harness)
        assert (a.id, b.id) == (done.id, retried.id)
        now = harness.clock.now()
        retry = Finish(b.id, b.token, Outcome.FAILED, retry_at=now)
        assert await store.finish([Finish(a.id, a.token, Outcome.SUCCEEDED), retry], worker="w1", now=now)
        await store.cancel(pending.id, now=now)
        await heard.wait_for(a.id, pending.id)
        assert b.id not in heard.ids  # a retry did not end its job
        heard.stop()
        await store.cancel(b.id, now=now)
        assert b.id not in heard.ids  # unsubscribed

    async def test_other_processes_hear_ends_where_the_store_says_so(self, harness: Harness) -> None:
        store = harness.store
        if not store.hears_ended:
            return  # this store hears only its own process (the test above)
        other = await harness.another()
        heard = Heard(other)
        await other.wait_for_jobs(0)  # (returns once its subscription, if it has one, is on)
        # a cancellation carries the id, so that the worker running it stops it
        job = make_job(harness)
        await add(harness, job)
        running = await claim_one(harness)
        await store.cancel(job.id, now=harness.clock.now())
        await heard.wait_for(job.id)
        # a finish says that some job ended (its waiters re-check)
        second = make_job(harness)
        await add(harness, second)
        claimed = await claim_one(harness)
        heard.ids.clear()
        ok = await store.finish(
            [Finish(claimed.id, claimed.token, Outcome.SUCCEEDED)], worker="w1", now=harness.clock.now()
        )
        assert ok == [True]
        await heard.wait_for(None)
        assert running.id == job.id
