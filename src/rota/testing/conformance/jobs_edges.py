"""Corner cases of the job life cycle that a store can easily get subtly wrong."""

from __future__ import annotations

import itertools

from rota._models import ErrorInfo, Fence, Finish, JobFilter, JobStatus, LeaseRef, Outcome
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import (
    add,
    claim,
    claim_one,
    finish,
    make_job,
    run_to_end,
    sec,
)


class JobsEdges:
    async def test_returned_jobs_are_copies_of_the_stored_state(self, harness: Harness) -> None:
        job = make_job(harness)
        (added,) = await add(harness, job)
        added.priority = 99
        job.priority = 98
        claimed = await claim_one(harness)
        claimed.status = JobStatus.SUCCEEDED
        claimed.token = 42
        fetched = await harness.store.get_job(job.id)
        assert fetched is not None
        assert (fetched.priority, fetched.status, fetched.token) == (0, JobStatus.RUNNING, 1)
        fetched.lease_owner = "thief"
        (listed,) = await harness.store.list_jobs(JobFilter())
        listed.queue = "elsewhere"
        again = await harness.store.get_job(job.id)
        assert again is not None
        assert (again.lease_owner, again.queue) == ("w1", "default")

    async def test_claim_of_no_queues_claims_nothing(self, harness: Harness) -> None:
        await add(harness, make_job(harness))
        assert await claim(harness, queues=()) == []

    async def test_expired_leases_of_other_queues_are_not_reclaimed(self, harness: Harness) -> None:
        job = make_job(harness, queue="a", max_attempts=3)
        await add(harness, job)
        await claim_one(harness, queues=("a",), lease_for=sec(5))
        await harness.clock.advance(60)
        assert await claim(harness, queues=("b",), worker="w2") == []
        assert await harness.store.get_attempts(job.id) == []

    async def test_finish_of_a_released_job_is_rejected(self, harness: Harness) -> None:
        job = make_job(harness)
        await add(harness, job)
        claimed = await claim_one(harness)
        await harness.store.release([LeaseRef(job.id, claimed.token)], now=harness.clock.now())
        assert not await finish(harness, claimed)
        stored = await harness.store.get_job(job.id)
        assert stored is not None
        assert stored.status is JobStatus.PENDING
        history = await harness.store.get_attempts(job.id)
        assert [(a.number, a.outcome) for a in history] == [(claimed.token, Outcome.RELEASED)]

    async def test_finished_job_cannot_be_finished_or_heartbeated_again(self, harness: Harness) -> None:
        job = make_job(harness)
        await add(harness, job)
        claimed = await claim_one(harness)
        assert await finish(harness, claimed)
        assert not await finish(harness, claimed, Outcome.FAILED, error=ErrorInfo("E", "x"))
        ref = LeaseRef(job.id, claimed.token)
        lost = await harness.store.heartbeat([ref], lease_for=sec(30), now=harness.clock.now())
        assert lost == [job.id]
        stored = await harness.store.get_job(job.id)
        assert stored is not None
        assert stored.status is JobStatus.SUCCEEDED
        assert len(await harness.store.get_attempts(job.id)) == 1

    async def test_heartbeat_at_the_exact_expiry_reports_the_lease_lost(self, harness: Harness) -> None:
        job = make_job(harness)
        await add(harness, job)
        claimed = await claim_one(harness, lease_for=sec(10))
        await harness.clock.advance(9.999)
        ref = LeaseRef(job.id, claimed.token)
        assert await harness.store.heartbeat([ref], lease_for=sec(10), now=harness.clock.now()) == []
        await harness.clock.advance(10)
        lost = await harness.store.heartbeat([ref], lease_for=sec(10), now=harness.clock.now())
        assert lost == [job.id]

    async def test_cancel_of_a_job_waiting_for_its_retry(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=3)
        await add(harness, job)
        claimed = await claim_one(harness)
        retry_at = harness.clock.now() + sec(30)
        assert await finish(harness, claimed, Outcome.FAILED, retry_at=retry_at)
        cancelled = await harness.store.cancel(job.id, now=harness.clock.now())
        assert cancelled.status is JobStatus.CANCELLED
        await harness.clock.advance(60)
        assert await claim(harness) == []
        assert [a.outcome for a in await harness.store.get_attempts(job.id)] == [Outcome.FAILED]

    async def test_retry_job_counts_in_next_due_at_its_retry_time(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=2)
        await add(harness, job)
        claimed = await claim_one(harness)
        retry_at = harness.clock.now() + sec(7)
        assert await finish(harness, claimed, Outcome.FAILED, retry_at=retry_at)
        assert await harness.store.next_due(queues=["default"]) == retry_at

    async def test_finish_with_an_expired_fence_is_rejected(self, harness: Harness) -> None:
        now = harness.clock.now()
        lead = await harness.store.acquire_lease("lead", owner="s1", ttl=sec(5), now=now)
        assert lead is not None
        job = make_job(harness)
        await add(harness, job)
        claimed = await claim_one(harness, lease_for=sec(60))
        await harness.clock.advance(5)
        fin = Finish(job.id, claimed.token, Outcome.SUCCEEDED, fence=Fence("lead", "s1", lead.token))
        assert await harness.store.finish([fin], worker="w1", now=harness.clock.now()) == [False]
        assert await harness.store.get_job(job.id) == claimed

    async def test_purged_jobs_leave_the_stats(self, harness: Harness) -> None:
        await run_to_end(harness, make_job(harness, queue="p"))
        await harness.clock.advance(1)
        assert await harness.store.purge(finished_before=harness.clock.now()) == 1
        stats = await harness.store.stats()
        assert stats.counts.get("p", {}).get(JobStatus.SUCCEEDED, 0) == 0

    async def test_large_bulk_add_is_claimed_in_order(self, harness: Harness) -> None:
        jobs = [make_job(harness, priority=n % 5, delay=-(n % 7)) for n in range(300)]
        await add(harness, *jobs)
        expected = sorted(jobs, key=lambda j: (-j.priority, j.due_at, j.id))
        claimed: list[str] = []
        for want in itertools.cycle(range(1, 13)):  # one at a time and in batches of up to 12
            if len(claimed) == len(jobs):
                break
            got = await claim(harness, limit=want)
            assert len(got) == min(want, len(jobs) - len(claimed)), (want, len(got))
            claimed += [j.id for j in got]  # each claim takes the best left, in claim order
        assert claimed == [j.id for j in expected]
