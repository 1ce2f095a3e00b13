"""Dependencies between jobs (``Store.add``, "Dependencies"): a job with parents waits until
they end, is released by the last success (exactly once, also when two parents end at once
on two connections), cancelled with its dependants by a failure, and never claimed while
waiting."""

from __future__ import annotations

import asyncio

import pytest

from rota._errors import ConfigError, JobNotFound
from rota._models import ErrorInfo, Finish, Job, JobFilter, JobStatus, Outcome
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import LEASE, add, claim, claim_one, finish, make_job, sec


def child_of(h: Harness, *parents: Job, **changes: object) -> Job:
    return make_job(h).replace(parents=tuple(p.id for p in parents), **changes)


async def stored(h: Harness, job: Job) -> Job:
    found = await h.store.get_job(job.id)
    assert found is not None
    return found


async def succeed(h: Harness, job: Job, result: bytes | None = None) -> None:
    claimed = await claim_one(h, queues=(job.queue,))
    assert claimed.id == job.id
    assert await finish(h, claimed, result=result)


async def succeed_claimed(h: Harness, job: Job) -> None:
    """Finish a job claimed before as succeeded."""
    stored_job = await stored(h, job)
    assert await finish(h, stored_job)


class Dependencies:
    async def test_a_child_waits_unclaimed_until_its_parent_succeeds(self, harness: Harness) -> None:
        parent = make_job(harness)
        child = child_of(harness, parent)
        [p, c] = await add(harness, parent, child)
        assert (p.status, c.status, c.parents, c.parents_left) == (
            JobStatus.PENDING, JobStatus.WAITING, (parent.id,), 1
        )  # fmt: skip
        assert (await stored(harness, parent)).dependants == 1
        assert (await harness.store.stats()).counts["default"][JobStatus.WAITING] == 1
        assert [j.id for j in await harness.store.list_jobs(JobFilter(status=JobStatus.WAITING))] == [
            child.id
        ]
        claimed = await claim(harness, limit=10)
        assert [j.id for j in claimed] == [parent.id]  # the child is not claimable
        assert await harness.store.next_due(queues=["default"]) == claimed[0].lease_expires_at
        assert await finish(harness, claimed[0])
        released = await stored(harness, child)
        assert (released.status, released.parents_left) == (JobStatus.PENDING, 0)
        assert [j.id for j in await claim(harness)] == [child.id]
        assert (await harness.store.stats()).counts["default"].get(JobStatus.WAITING, 0) == 0

    async def test_an_add_retried_with_parents_links_nothing_again(self, harness: Harness) -> None:
        # idempotent per id: the stored job answers, its parent's count of dependants is
        # unchanged, and one success releases it exactly once
        parent = make_job(harness)
        child = child_of(harness, parent)
        await add(harness, parent, child)
        again = await harness.store.add([parent, child], now=harness.clock.now())
        assert [(r.job.id, r.created) for r in again] == [(parent.id, False), (child.id, False)]
        assert (again[1].job.status, again[1].job.parents_left) == (JobStatus.WAITING, 1)
        assert (await stored(harness, parent)).dependants == 1
        await succeed(harness, parent)
        assert [j.id for j in await claim(harness, limit=10)] == [child.id]

    async def test_one_parent_ended_before_the_add_and_one_not(self, harness: Harness) -> None:
        done, running = make_job(harness, priority=2), make_job(harness, priority=1)
        await add(harness, done, running)
        await succeed(harness, done)
        child = child_of(harness, done, running)
        [added] = await add(harness, child)
        assert (added.status, added.parents_left) == (JobStatus.WAITING, 1)
        # as stored, not only as answered: the ended parent is counted off once
        assert ((c := await stored(harness, child)).status, c.parents_left) == (JobStatus.WAITING, 1)
        assert [j.id for j in await claim(harness, limit=10)] == [running.id]
        await succeed_claimed(harness, running)
        assert (await stored(harness, child)).status is JobStatus.PENDING

    async def test_an_abort_settles_dependants_as_a_cancel_does(self, harness: Harness) -> None:
        parent = make_job(harness, priority=5)  # claimed first
        child = child_of(harness, parent)
        anyway = child_of(harness, parent, run_after_failure=True)
        waiting = make_job(harness)
        waits = child_of(harness, waiting)
        await add(harness, parent, child, anyway, waiting, waits)
        running = await claim_one(harness, queues=(parent.queue,))
        assert running.id == parent.id
        done = await harness.store.abort(parent.id, reason="stop", now=harness.clock.now())
        assert done.applied
        assert (await stored(harness, child)).status is JobStatus.CANCELLED
        assert (await stored(harness, anyway)).status is JobStatus.PENDING
        # a waiting job is aborted like a pending one
        aborted = await harness.store.abort(waits.id, reason="no", now=harness.clock.now())
        assert (aborted.applied, aborted.job.status) == (True, JobStatus.CANCELLED)
        counts = (await harness.store.stats()).counts["default"]
        assert counts.get(JobStatus.WAITING, 0) == 0

    async def test_every_parent_must_succeed(self, harness: Harness) -> None:
        a, b = make_job(harness, priority=2), make_job(harness, priority=1)
        child = child_of(harness, a, b)
        await add(harness, a, b, child)
        await succeed(harness, a)
        assert ((c := await stored(harness, child)).status, c.parents_left) == (JobStatus.WAITING, 1)
        await succeed(harness, b)
        assert (await stored(harness, child)).status is JobStatus.PENDING

    async def test_a_retry_is_no_end(self, harness: Harness) -> None:
        parent = make_job(harness, max_attempts=2)
        child = child_of(harness, parent)
        await add(harness, parent, child)
        claimed = await claim_one(harness)
        retry_at = harness.clock.now() + sec(5)
        assert await finish(harness, claimed, Outcome.FAILED, retry_at=retry_at)
        assert (await stored(harness, child)).status is JobStatus.WAITING

    async def test_a_failure_cancels_dependants_transitively(self, harness: Harness) -> None:
        parent = make_job(harness)
        child = child_of(harness, parent)
        grandchild = child_of(harness, child)
        anyway = child_of(harness, parent, run_after_failure=True)
        await add(harness, parent, child, grandchild, anyway)
        claimed = await claim_one(harness)
        now = harness.clock.now()
        assert await finish(harness, claimed, Outcome.FAILED, error=ErrorInfo("Boom", "x"))
        c, g, a = [await stored(harness, j) for j in (child, grandchild, anyway)]
        assert (c.status, c.finished_at) == (JobStatus.CANCELLED, now)
        assert parent.id in (c.last_error or "")
        assert g.status is JobStatus.CANCELLED
        assert child.id in (g.last_error or "")
        assert (a.status, a.parents_left) == (JobStatus.PENDING, 0)
        assert [j.id for j in await claim(harness)] == [anyway.id]
        counts = (await harness.store.stats()).counts["default"]
        assert counts[JobStatus.CANCELLED] == 2
        assert counts.get(JobStatus.WAITING, 0) == 0

    async def test_cancelling_a_parent_or_a_waiting_job_cancels_its_dependants(
        self, harness: Harness
    ) -> None:
        parent = make_job(harness)
        child = child_of(harness, parent)
        grandchild = child_of(harness, child)
        await add(harness, parent, child, grandchild)
        now = harness.clock.now()
        cancelled = await harness.store.cancel(child.id, now=now)
        assert cancelled.status is JobStatus.CANCELLED
        assert (await stored(harness, grandchild)).status is JobStatus.CANCELLED
        other = child_of(harness, parent)
        await add(harness, other)
        await harness.store.cancel(parent.id, now=now)
        assert (await stored(harness, other)).status is JobStatus.CANCELLED

    async def test_a_last_lost_lease_fails_the_parent_and_cancels_its_dependants(
        self, harness: Harness
    ) -> None:
        parent = make_job(harness)
        child = child_of(harness, parent)
        await add(harness, parent, child)
        await claim_one(harness)
        await harness.clock.advance(LEASE.total_seconds() + 1)
        assert await claim(harness) == []
        assert (await stored(harness, parent)).status is JobStatus.FAILED
        assert (await stored(harness, child)).status is JobStatus.CANCELLED

    async def test_parents_that_ended_before_the_add(self, harness: Harness) -> None:
        done, dead = make_job(harness, priority=2), make_job(harness, priority=1)
        await add(harness, done, dead)
        await succeed(harness, done, result=b'{"v":7}')
        claimed = await claim_one(harness)
        assert await finish(harness, claimed, Outcome.FAILED)
        [ready, chained, doomed, anyway] = await add(
            harness,
            child_of(harness, done),
            child_of(harness, done, takes_result=True),
            child_of(harness, done, dead),
            child_of(harness, dead, done, run_after_failure=True),
        )
        assert (ready.status, ready.parents_left) == (JobStatus.PENDING, 0)
        assert (chained.status, chained.payload) == (JobStatus.PENDING, b'{"v":7}')
        assert (doomed.status, doomed.finished_at) == (JobStatus.CANCELLED, harness.clock.now())
        assert dead.id in (doomed.last_error or "")
        assert anyway.status is JobStatus.PENDING
        for job in (ready, chained, doomed, anyway):
            assert await stored(harness, job) == job
        assert (await stored(harness, done)).dependants == 4

    async def test_a_chained_job_gets_its_parents_result_as_payload(self, harness: Harness) -> None:
        first = make_job(harness)
        second = child_of(harness, first, takes_result=True, payload=b"null")
        third = child_of(harness, second, takes_result=True, payload=b"null")
        await add(harness, first, second, third)
        await succeed(harness, first, result=b'["a",1]')
        assert (await stored(harness, second)).payload == b'["a",1]'
        await succeed(harness, second)  # returned nothing
        assert ((t := await stored(harness, third)).status, t.payload) == (JobStatus.PENDING, b"null")

    async def test_parents_must_exist_or_come_earlier_in_the_batch(self, harness: Harness) -> None:
        parent = make_job(harness)
        orphan = make_job(harness).replace(parents=("no-such-job",))
        with pytest.raises(JobNotFound):
            await harness.store.add([parent, orphan], now=harness.clock.now())
        assert await harness.store.get_job(parent.id) is None  # no half-written batch
        child = child_of(harness, parent)
        with pytest.raises(ConfigError):
            await harness.store.add([child, parent], now=harness.clock.now())
        with pytest.raises(ConfigError):
            await harness.store.add([parent.replace(parents=(parent.id,))], now=harness.clock.now())
        other = make_job(harness)
        with pytest.raises(ConfigError):
            await harness.store.add(
                [parent, other, child_of(harness, parent, other, takes_result=True)], now=harness.clock.now()
            )
        for bad in ((), ("",), (parent.id, parent.id), [parent.id]):
            with pytest.raises(ConfigError):
                await harness.store.add(
                    [parent, make_job(harness).replace(parents=bad)], now=harness.clock.now()
                )
        assert await harness.store.get_job(parent.id) is None

    async def test_a_parent_held_under_a_taken_key_is_the_key_holder(self, harness: Harness) -> None:
        holder = make_job(harness, key="k1")
        await add(harness, holder)
        again = make_job(harness, key="k1")
        child = child_of(harness, again)
        results = await harness.store.add([again, child], now=harness.clock.now())
        assert [r.created for r in results] == [False, True]
        assert results[1].job.parents == (holder.id,)
        await succeed(harness, holder)
        assert (await stored(harness, child)).status is JobStatus.PENDING

    async def test_each_parent_settles_a_child_once(self, harness: Harness) -> None:
        a, b = make_job(harness, priority=2), make_job(harness, priority=1)
        child = child_of(harness, a, b, run_after_failure=True)
        await add(harness, a, b, child)
        claimed = await claim_one(harness)
        assert claimed.id == a.id
        assert await finish(harness, claimed, Outcome.FAILED)
        assert (await stored(harness, child)).parents_left == 1
        await harness.store.requeue(a.id, now=harness.clock.now())
        [again, other] = await claim(harness, limit=2)
        assert {again.id, other.id} == {a.id, b.id}
        assert await finish(harness, again if again.id == a.id else other)
        assert ((c := await stored(harness, child)).status, c.parents_left) == (JobStatus.WAITING, 1)
        assert await finish(harness, other if again.id == a.id else again)
        assert (await stored(harness, child)).status is JobStatus.PENDING

    async def test_two_parents_ending_at_once_release_their_child_once(self, harness: Harness) -> None:
        one, two = harness.store, await harness.another()
        for _ in range(5):
            a, b = make_job(harness, queue="p"), make_job(harness, queue="p")
            child = child_of(harness, a, b).replace(queue="c")
            await add(harness, a, b, child)
            claimed = {j.id: j for j in await claim(harness, limit=2, queues=("p",))}
            now = harness.clock.now()
            done = await asyncio.gather(
                one.finish([Finish(a.id, claimed[a.id].token, Outcome.SUCCEEDED)], worker="w1", now=now),
                two.finish([Finish(b.id, claimed[b.id].token, Outcome.SUCCEEDED)], worker="w2", now=now),
            )
            assert list(done) == [[True], [True]]
            assert ((c := await stored(harness, child)).status, c.parents_left) == (JobStatus.PENDING, 0)
            got = await asyncio.gather(
                *(
                    s.claim(queues=["c"], worker=w, limit=5, lease_for=LEASE, now=now)
                    for s, w in ((one, "w1"), (two, "w2"))
                )
            )
            assert sorted(j.id for jobs in got for j in jobs) == [child.id]
        assert (await harness.store.stats()).counts["c"] == {JobStatus.RUNNING: 5}
