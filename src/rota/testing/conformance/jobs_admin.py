"""Operator actions and queries: cancel, requeue, purge, stats, next_due, list."""

from __future__ import annotations

import pytest

from rota._errors import InvalidState, JobNotFound
from rota._models import Attempt, JobFilter, JobStatus, LeaseRef, Outcome
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import (
    add,
    claim,
    claim_one,
    finish,
    make_job,
    run_to_end,
    sec,
    sorted_ids,
)


class JobsAdmin:
    async def test_cancel_pending_job(self, harness: Harness) -> None:
        job = make_job(harness, delay=5)
        await add(harness, job)
        await harness.clock.advance(1)
        now = harness.clock.now()
        cancelled = await harness.store.cancel(job.id, now=now)
        expected = job.replace(status=JobStatus.CANCELLED, finished_at=now)
        assert cancelled == expected
        assert await harness.store.get_job(job.id) == expected
        assert await harness.store.get_attempts(job.id) == []
        await harness.clock.advance(10)
        assert await claim(harness) == []

    async def test_cancel_running_job_records_attempt_and_revokes_the_lease(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=3)
        await add(harness, job)
        t0 = harness.clock.now()
        claimed = await claim_one(harness, worker="w1")
        await harness.clock.advance(1)
        now = harness.clock.now()
        cancelled = await harness.store.cancel(job.id, now=now)
        expected = claimed.replace(
            status=JobStatus.CANCELLED, lease_owner=None, lease_expires_at=None, finished_at=now
        )
        assert cancelled == expected
        ref = LeaseRef(job.id, claimed.token)
        assert await harness.store.heartbeat([ref], lease_for=sec(30), now=now) == [job.id]
        assert not await finish(harness, claimed)
        assert await harness.store.get_job(job.id) == expected
        assert await harness.store.get_attempts(job.id) == [
            Attempt(job.id, 1, "w1", started_at=t0, finished_at=now, outcome=Outcome.CANCELLED)
        ]
        await harness.clock.advance(60)
        assert await claim(harness) == []

    async def test_cancel_finished_job_raises_invalid_state(self, harness: Harness) -> None:
        done = await run_to_end(harness, make_job(harness))
        with pytest.raises(InvalidState):
            await harness.store.cancel(done.id, now=harness.clock.now())
        assert await harness.store.get_job(done.id) == done

    async def test_cancel_and_requeue_of_unknown_job_raise_job_not_found(self, harness: Harness) -> None:
        unknown = sorted_ids(1)[0]
        with pytest.raises(JobNotFound):
            await harness.store.cancel(unknown, now=harness.clock.now())
        with pytest.raises(JobNotFound):
            await harness.store.requeue(unknown, now=harness.clock.now())

    async def test_requeue_failed_job_runs_it_again_keeping_history(self, harness: Harness) -> None:
        failed = await run_to_end(harness, make_job(harness, max_attempts=1), Outcome.FAILED)
        await harness.clock.advance(100)
        now = harness.clock.now()
        requeued = await harness.store.requeue(failed.id, now=now)
        assert (requeued.status, requeued.due_at, requeued.attempts, requeued.token) == (
            JobStatus.PENDING,
            now,
            0,
            1,
        )
        assert (requeued.finished_at, requeued.lease_owner, requeued.lease_expires_at) == (
            None,
            None,
            None,
        )
        assert await harness.store.get_job(failed.id) == requeued
        again = await claim_one(harness)
        assert (again.id, again.token, again.attempts) == (failed.id, 2, 1)
        history = await harness.store.get_attempts(failed.id)
        assert [(a.number, a.outcome) for a in history] == [(1, Outcome.FAILED)]

    async def test_requeue_cancelled_job(self, harness: Harness) -> None:
        job = make_job(harness)
        await add(harness, job)
        await harness.store.cancel(job.id, now=harness.clock.now())
        requeued = await harness.store.requeue(job.id, now=harness.clock.now())
        assert requeued.status is JobStatus.PENDING
        assert [j.id for j in await claim(harness)] == [job.id]

    async def test_requeue_of_pending_running_or_succeeded_raises_invalid_state(
        self, harness: Harness
    ) -> None:
        done = await run_to_end(harness, make_job(harness))
        pending, running = make_job(harness), make_job(harness, delay=-1)
        await add(harness, pending, running)
        assert [j.id for j in await claim(harness, limit=1)] == [running.id]
        for job_id in (pending.id, running.id, done.id):
            before = await harness.store.get_job(job_id)
            with pytest.raises(InvalidState):
                await harness.store.requeue(job_id, now=harness.clock.now())
            assert await harness.store.get_job(job_id) == before

    async def test_purge_deletes_only_jobs_finished_before_the_cutoff(self, harness: Harness) -> None:
        early = await run_to_end(harness, make_job(harness))
        await harness.clock.advance(10)
        late = await run_to_end(harness, make_job(harness), Outcome.FAILED)
        pending, running = make_job(harness), make_job(harness, queue="busy")
        await add(harness, pending, running)
        await claim_one(harness, queues=("busy",))
        cutoff = early.finished_at
        assert cutoff is not None
        assert await harness.store.purge(finished_before=cutoff) == 0  # strictly before
        assert await harness.store.purge(finished_before=cutoff + sec(5)) == 1
        assert await harness.store.get_job(early.id) is None
        assert await harness.store.get_attempts(early.id) == []
        assert await harness.store.get_job(late.id) == late
        await harness.clock.advance(1000)
        assert await harness.store.purge(finished_before=harness.clock.now()) == 1
        remaining = await harness.store.list_jobs(JobFilter())
        assert sorted(j.id for j in remaining) == sorted([pending.id, running.id])

    async def test_purge_respects_its_limit(self, harness: Harness) -> None:
        for _ in range(3):
            await run_to_end(harness, make_job(harness))
        await harness.clock.advance(1)
        now = harness.clock.now()
        counts = [await harness.store.purge(finished_before=now, limit=2) for _ in range(3)]
        assert counts == [2, 1, 0]

    async def test_stats_counts_jobs_per_queue_and_status(self, harness: Harness) -> None:
        await run_to_end(harness, make_job(harness, queue="a"))
        await run_to_end(harness, make_job(harness, queue="a"), Outcome.FAILED)
        await add(harness, *(make_job(harness, queue="a") for _ in range(3)))
        await add(harness, *(make_job(harness, queue="b") for _ in range(2)))
        await claim(harness, queues=("b",), limit=1)
        stats = await harness.store.stats()
        a, b = stats.counts["a"], stats.counts["b"]
        assert {s: a.get(s, 0) for s in JobStatus} == {
            JobStatus.WAITING: 0,
            JobStatus.PENDING: 3,
            JobStatus.RUNNING: 0,
            JobStatus.SUCCEEDED: 1,
            JobStatus.FAILED: 1,
            JobStatus.CANCELLED: 0,
        }
        assert (b.get(JobStatus.PENDING, 0), b.get(JobStatus.RUNNING, 0)) == (1, 1)
        assert stats.total(JobStatus.PENDING) == 4

    async def test_stats_with_now_counts_the_delayed_part_of_pending(self, harness: Harness) -> None:
        now = harness.clock.now()
        await add(
            harness,
            make_job(harness, queue="a", delay=-5),
            make_job(harness, queue="a"),  # due exactly now: runnable, not delayed
            make_job(harness, queue="a", delay=10, priority=3),
            make_job(harness, queue="a", delay=20, priority=-2),
            make_job(harness, queue="a", delay=30),
            make_job(harness, queue="b", delay=60),
            make_job(harness, queue="c", delay=-1),
        )
        await claim(harness, queues=("c",))
        stats = await harness.store.stats(now=now)
        assert stats.delayed == {"a": 3, "b": 1}
        assert stats.counts["a"][JobStatus.PENDING] == 5  # delayed jobs are still pending
        assert (await harness.store.stats()).delayed == {}  # only asked for with ``now``
        await harness.clock.advance(15)
        assert (await harness.store.stats(now=harness.clock.now())).delayed == {"a": 2, "b": 1}
        await claim(harness, queues=("a",), limit=10)  # takes the 3 due ones
        await harness.clock.advance(100)
        later = await harness.store.stats(now=harness.clock.now())
        assert later.delayed == {}
        assert later.counts["a"][JobStatus.PENDING] == 2

    async def test_next_due_is_the_earliest_pending_due_or_lease_expiry(self, harness: Harness) -> None:
        now = harness.clock.now()
        assert await harness.store.next_due(queues=["a"]) is None
        await add(harness, make_job(harness, queue="a", delay=10))
        await add(harness, make_job(harness, queue="b", delay=5))
        assert await harness.store.next_due(queues=["a"]) == now + sec(10)
        assert await harness.store.next_due(queues=["a", "b"]) == now + sec(5)
        await add(harness, make_job(harness, queue="a"))
        await claim_one(harness, queues=("a",), lease_for=sec(3))
        assert await harness.store.next_due(queues=["a"]) == now + sec(3)
        await run_to_end(harness, make_job(harness, queue="c"))
        assert await harness.store.next_due(queues=["c"]) is None

    async def test_next_due_counts_due_jobs_not_yet_claimed(self, harness: Harness) -> None:
        now = harness.clock.now()
        await add(harness, make_job(harness, delay=-2), make_job(harness, delay=-1, priority=9))
        await claim_one(harness)
        assert await harness.store.next_due(queues=["default"]) == now - sec(2)

    async def test_list_jobs_filters_and_paginates_by_id(self, harness: Harness) -> None:
        i = sorted_ids(6)
        jobs = [
            make_job(harness, job_id=i[0], queue="a", task="x"),
            make_job(harness, job_id=i[1], queue="b", task="x"),
            make_job(harness, job_id=i[2], queue="a", task="y", schedule_id="s"),
            make_job(harness, job_id=i[3], queue="a", task="x", schedule_id="s"),
            make_job(harness, job_id=i[4], queue="b", task="y"),
            make_job(harness, job_id=i[5], queue="a", task="x", delay=-1),
        ]
        await add(harness, *reversed(jobs))
        await claim_one(harness, queues=("a",))  # i[5]: the only one overdue
        lst = harness.store.list_jobs
        assert [j.id for j in await lst(JobFilter())] == i
        assert [j.id for j in await lst(JobFilter(queue="a", task="x"))] == [i[0], i[3], i[5]]
        assert [j.id for j in await lst(JobFilter(schedule_id="s"))] == [i[2], i[3]]
        assert [j.id for j in await lst(JobFilter(status=JobStatus.RUNNING))] == [i[5]]
        assert [j.id for j in await lst(JobFilter(status=JobStatus.PENDING, limit=2))] == i[:2]
        page = await lst(JobFilter(status=JobStatus.PENDING, limit=2, after_id=i[1]))
        assert [j.id for j in page] == i[2:4]
        page = await lst(JobFilter(status=JobStatus.PENDING, limit=2, after_id=i[3]))
        assert [j.id for j in page] == [i[4]]
        assert await lst(JobFilter(after_id=i[5])) == []
        assert (await lst(JobFilter(task="y")))[0] == jobs[2]
