"""What the dashboard reads: job pages in either order with every filter, counts of finished
jobs per time bucket, and the named leases held."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rota._errors import ConfigError
from rota._ids import id_floor
from rota._models import FinishedCount, JobFilter, JobStatus, Lease, Outcome
from rota.stores.base import MAX_BUCKETS
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

MINUTE = timedelta(minutes=1)


class Listing:
    async def test_list_jobs_newest_first_pages_back_with_before_id(self, harness: Harness) -> None:
        i = sorted_ids(5)
        await add(harness, *(make_job(harness, job_id=x) for x in reversed(i)))
        lst = harness.store.list_jobs
        assert [j.id for j in await lst(JobFilter(newest_first=True))] == i[::-1]
        page = await lst(JobFilter(newest_first=True, limit=2))
        assert [j.id for j in page] == [i[4], i[3]]
        page = await lst(JobFilter(newest_first=True, limit=2, before_id=page[-1].id))
        assert [j.id for j in page] == [i[2], i[1]]
        page = await lst(JobFilter(newest_first=True, limit=2, before_id=page[-1].id))
        assert [j.id for j in page] == [i[0]]
        assert await lst(JobFilter(newest_first=True, before_id=i[0])) == []
        # both bounds, both orders: a window of ids
        assert [j.id for j in await lst(JobFilter(after_id=i[0], before_id=i[4]))] == i[1:4]
        window = JobFilter(after_id=i[0], before_id=i[4], newest_first=True)
        assert [j.id for j in await lst(window)] == i[3:0:-1]
        assert await lst(JobFilter(after_id=i[3], before_id=i[2])) == []

    async def test_list_jobs_by_key(self, harness: Harness) -> None:
        keyed = make_job(harness, key="order-7", queue="a")
        await add(harness, keyed, make_job(harness, key="order-8"), make_job(harness))
        lst = harness.store.list_jobs
        assert await lst(JobFilter(key="order-7")) == [keyed]
        assert await lst(JobFilter(key="order-7", queue="a", newest_first=True)) == [keyed]
        assert await lst(JobFilter(key="order-7", queue="b")) == []
        assert await lst(JobFilter(key="order-7", status=JobStatus.RUNNING)) == []
        assert await lst(JobFilter(key="order-7", after_id=keyed.id)) == []
        assert await lst(JobFilter(key="nope")) == []

    async def test_list_jobs_filters_combine_with_order_and_bounds(self, harness: Harness) -> None:
        i = sorted_ids(8)
        jobs = [
            make_job(
                harness, job_id=x, queue="ab"[n % 2], task="xy"[n // 4], schedule_id="s" if n > 5 else None
            )
            for n, x in enumerate(i)
        ]
        await add(harness, *jobs)
        lst = harness.store.list_jobs
        a_x = JobFilter(queue="a", task="x", newest_first=True)
        assert [j.id for j in await lst(a_x)] == [i[2], i[0]]
        assert [j.id for j in await lst(JobFilter(queue="b", newest_first=True, limit=3))] == [
            i[7],
            i[5],
            i[3],
        ]
        page = JobFilter(queue="b", newest_first=True, before_id=i[5], limit=3)
        assert [j.id for j in await lst(page)] == [i[3], i[1]]
        assert [j.id for j in await lst(JobFilter(task="y", after_id=i[4]))] == i[5:]
        sched = JobFilter(schedule_id="s", newest_first=True)
        assert [j.id for j in await lst(sched)] == [i[7], i[6]]
        failed = await run_to_end(harness, make_job(harness, queue="c"), Outcome.FAILED)
        assert await lst(JobFilter(status=JobStatus.FAILED, newest_first=True)) == [failed]
        assert await lst(JobFilter(status=JobStatus.FAILED, queue="a")) == []

    async def test_list_running_jobs_in_either_order_with_bounds(self, harness: Harness) -> None:
        i = sorted_ids(6)
        await add(harness, *(make_job(harness, job_id=x, queue="ab"[n % 2]) for n, x in enumerate(i)))
        await claim(harness, queues=("a", "b"), limit=4)  # claim order is due_at then id: i[0..3]
        lst = harness.store.list_jobs
        running = JobFilter(status=JobStatus.RUNNING)
        assert [j.id for j in await lst(running)] == i[:4]
        assert [j.id for j in await lst(JobFilter(status=JobStatus.RUNNING, newest_first=True))] == i[3::-1]
        newest = JobFilter(status=JobStatus.RUNNING, newest_first=True, before_id=i[3], limit=2)
        assert [j.id for j in await lst(newest)] == [i[2], i[1]]
        assert [j.id for j in await lst(JobFilter(status=JobStatus.RUNNING, queue="b"))] == [i[1], i[3]]
        after = JobFilter(status=JobStatus.RUNNING, after_id=i[1], limit=1)
        assert [j.id for j in await lst(after)] == [i[2]]
        (one,) = await lst(JobFilter(status=JobStatus.RUNNING, limit=1))
        assert (one.status, one.lease_owner) == (JobStatus.RUNNING, "w1")

    async def test_id_floor_bounds_select_jobs_by_the_time_in_their_ids(self, harness: Harness) -> None:
        # ids made at three known milliseconds (the App makes them from the time it enqueues)
        t = harness.clock.now()
        ms = [id_floor(t + sec(s))[:12] for s in (0, 60, 120)]
        ids = [f"{m}7{n:019x}" for m in ms for n in (1, 2)]
        await add(harness, *(make_job(harness, job_id=x) for x in ids))
        lst = harness.store.list_jobs
        window = JobFilter(after_id=id_floor(t + sec(30)), before_id=id_floor(t + sec(120)))
        assert [j.id for j in await lst(window)] == ids[2:4]
        since = JobFilter(after_id=id_floor(t + sec(60)), newest_first=True)
        assert [j.id for j in await lst(since)] == ids[:1:-1]
        assert [j.id for j in await lst(JobFilter(before_id=id_floor(t + sec(60))))] == ids[:2]

    async def test_count_finished_counts_final_jobs_per_bucket_queue_and_status(
        self, harness: Harness
    ) -> None:
        since = harness.clock.now()
        await run_to_end(harness, make_job(harness, queue="a"))
        await run_to_end(harness, make_job(harness, queue="a"))
        await run_to_end(harness, make_job(harness, queue="b"), Outcome.FAILED)
        await harness.clock.advance(59.999)  # still the first minute
        await run_to_end(harness, make_job(harness, queue="a"), Outcome.FAILED)
        await harness.clock.advance(0.001)  # the second minute starts here
        await run_to_end(harness, make_job(harness, queue="a"))
        cancelled = make_job(harness, queue="b")
        await add(harness, cancelled)
        await harness.store.cancel(cancelled.id, now=harness.clock.now())
        await harness.clock.advance(120)  # the fourth minute: not finished yet, or not at all
        pending = make_job(harness, queue="a")
        retried = make_job(harness, queue="a", max_attempts=3)
        await add(harness, pending, retried)
        job = await claim_one(harness, queues=("a",))
        assert await finish(harness, job, Outcome.FAILED, retry_at=harness.clock.now() + sec(5))
        await claim_one(harness, queues=("a",))  # running
        until = since + 4 * MINUTE
        counts = await harness.store.count_finished(since=since, until=until, bucket=MINUTE)
        s, f, c = JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED
        assert counts == [
            FinishedCount(since, "a", f, 1),
            FinishedCount(since, "a", s, 2),
            FinishedCount(since, "b", f, 1),
            FinishedCount(since + MINUTE, "a", s, 1),
            FinishedCount(since + MINUTE, "b", c, 1),
        ]
        # until is exclusive, since inclusive; buckets start at since
        later = await harness.store.count_finished(since=since + MINUTE, until=until, bucket=2 * MINUTE)
        assert later == [FinishedCount(since + MINUTE, "a", s, 1), FinishedCount(since + MINUTE, "b", c, 1)]
        first = await harness.store.count_finished(since=since, until=since + MINUTE, bucket=MINUTE)
        assert sum(x.count for x in first) == 4
        # a requeued job is no longer finished; a purged one no longer there
        (failed_b,) = await harness.store.list_jobs(JobFilter(queue="b", status=f))
        await harness.store.requeue(failed_b.id, now=harness.clock.now())
        again = await harness.store.count_finished(since=since, until=until, bucket=MINUTE)
        assert FinishedCount(since, "b", f, 1) not in again
        assert len(again) == 4
        await harness.store.purge(finished_before=until)
        assert await harness.store.count_finished(since=since, until=until, bucket=MINUTE) == []

    async def test_count_finished_edges(self, harness: Harness) -> None:
        await run_to_end(harness, make_job(harness))
        now = harness.clock.now()
        count = harness.store.count_finished
        assert await count(since=now, until=now, bucket=MINUTE) == []
        assert await count(since=now + MINUTE, until=now, bucket=MINUTE) == []
        # the times are taken to the millisecond
        (one,) = await count(since=now + timedelta(microseconds=999), until=now + MINUTE, bucket=MINUTE)
        assert (one.start, one.count) == (now, 1)
        for bad in (timedelta(0), -MINUTE, timedelta(microseconds=1500), 60):
            with pytest.raises(ConfigError):
                await count(since=now, until=now + MINUTE, bucket=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigError):
            await count(since=now, until=now + (MAX_BUCKETS + 1) * MINUTE, bucket=MINUTE)
        with pytest.raises(ConfigError):
            await count(since=now.replace(tzinfo=None), until=now + MINUTE, bucket=MINUTE)
        most = await count(
            since=now, until=now + MAX_BUCKETS * timedelta(milliseconds=1), bucket=timedelta(milliseconds=1)
        )
        assert [(x.start, x.count) for x in most] == [(now, 1)]

    async def test_list_leases_lists_the_held_leases_by_name(self, harness: Harness) -> None:
        store, ttl = harness.store, sec(10)
        now = harness.clock.now()
        assert await store.list_leases(now=now) == []
        b = await store.acquire_lease("lock:b", owner="w2", ttl=ttl, now=now)
        a = await store.acquire_lease("leader:default", owner="w1", ttl=sec(30), now=now)
        gone = await store.acquire_lease("lock:gone", owner="w3", ttl=ttl, now=now)
        assert gone is not None
        assert await store.release_lease("lock:gone", owner="w3", token=gone.token, now=now)
        assert await store.list_leases(now=now) == [a, b]
        await harness.clock.advance(10)  # lock:b expires
        now = harness.clock.now()
        assert await store.list_leases(now=now) == [a]
        c = await store.acquire_lease("lock:b", owner="w4", ttl=ttl, now=now)
        assert a is not None
        assert c is not None
        assert c.token == 2
        renewed = await store.renew_lease("leader:default", owner="w1", token=a.token, ttl=sec(30), now=now)
        assert await store.list_leases(now=now) == [renewed, c]
        assert renewed == Lease("leader:default", "w1", 1, a.acquired_at, now + sec(30))
