"""Wake-ups: the writes that promise to wake local waiters do so."""

from __future__ import annotations

import asyncio

from rota._models import FireCommit, LeaseRef, Outcome
from rota.stores.base import Store
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import (
    add,
    claim_one,
    make_job,
    make_schedule,
    run_to_end,
    sec,
)

# real seconds; only reached when a promised wake-up is missing (the test then fails)
WAIT = 5.0


async def drained(store: Store) -> None:
    """Consume wake-ups already pending, so the next wait proves a new one."""
    while await store.wait_for_jobs(0):
        pass
    while await store.wait_for_schedules(0):
        pass


class Wakeups:
    async def test_add_release_and_requeue_wake_job_waiters(self, harness: Harness) -> None:
        store = harness.store
        await drained(store)
        job = make_job(harness)
        await add(harness, job)
        assert await store.wait_for_jobs(WAIT)
        claimed = await claim_one(harness)
        await drained(store)
        assert await store.release([LeaseRef(job.id, claimed.token)], now=harness.clock.now())
        assert await store.wait_for_jobs(WAIT)
        failed = await run_to_end(harness, make_job(harness, queue="other"), Outcome.FAILED)
        await drained(store)
        await store.requeue(failed.id, now=harness.clock.now())
        assert await store.wait_for_jobs(WAIT)

    async def test_wait_reconnected_does_not_return_while_nothing_was_lost(self, harness: Harness) -> None:
        # it ends a caller's backoff early: returning on a healthy store would defeat it
        waiter = asyncio.ensure_future(harness.store.wait_reconnected())
        done, _ = await asyncio.wait([waiter], timeout=0.2)
        waiter.cancel()
        assert not done

    async def test_schedule_writes_wake_schedule_waiters(self, harness: Harness) -> None:
        store, now = harness.store, harness.clock.now()
        await drained(store)
        await store.put_schedule(make_schedule(harness, "s1"), now=now)
        assert await store.wait_for_schedules(WAIT)
        await store.set_schedule_paused("s1", True, next_fire_at=None, now=now)
        assert await store.wait_for_schedules(WAIT)

    async def test_commit_creating_jobs_wakes_job_waiters(self, harness: Harness) -> None:
        store, now = harness.store, harness.clock.now()
        schedule = make_schedule(harness, "s1")
        await store.put_schedule(schedule, now=now)
        (leased,) = await store.acquire_schedules(owner="o", limit=1, lease_for=sec(30), now=now)
        await drained(store)
        job = make_job(harness, schedule_id="s1")
        commit = FireCommit("s1", leased.version, "o", (job,), now + sec(60), now)
        assert await store.commit_fires(commit, now=now)
        assert await store.wait_for_jobs(WAIT)
