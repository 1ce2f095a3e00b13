"""Claiming: order, due times, limits, queues, the claimed fields, atomicity, lease expiry."""

from __future__ import annotations

import asyncio
from collections import Counter

from rota._models import Attempt, JobStatus, Outcome
from rota.stores.base import Store
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import (
    LEASE,
    add,
    claim,
    claim_one,
    make_job,
    sec,
    sorted_ids,
)


class JobsClaim:
    async def test_claim_orders_by_priority_desc_then_due_at_then_id(self, harness: Harness) -> None:
        i = sorted_ids(5)
        low_old = make_job(harness, job_id=i[0], priority=0, delay=-3)
        high_late = make_job(harness, job_id=i[1], priority=5, delay=-1)
        high_early_a = make_job(harness, job_id=i[2], priority=5, delay=-2)
        high_early_b = make_job(harness, job_id=i[3], priority=5, delay=-2)
        negative = make_job(harness, job_id=i[4], priority=-1, delay=-10)
        await add(harness, negative, high_early_b, low_old, high_late, high_early_a)
        order = [(await claim_one(harness)).id for _ in range(5)]
        expected = [high_early_a, high_early_b, high_late, low_old, negative]
        assert order == [j.id for j in expected]
        assert await claim(harness) == []

    async def test_delayed_job_is_claimable_only_from_its_due_at(self, harness: Harness) -> None:
        job = make_job(harness, delay=10)
        await add(harness, job)
        assert await claim(harness) == []
        await harness.clock.advance(9.999)
        assert await claim(harness) == []
        await harness.clock.advance(0.001)
        assert [j.id for j in await claim(harness)] == [job.id]

    async def test_claim_returns_at_most_limit_jobs(self, harness: Harness) -> None:
        await add(harness, *(make_job(harness) for _ in range(5)))
        sizes = [len(await claim(harness, limit=2)) for _ in range(4)]
        assert sizes == [2, 2, 1, 0]

    async def test_claim_with_zero_limit_claims_nothing(self, harness: Harness) -> None:
        job = make_job(harness)
        await add(harness, job)
        assert await claim(harness, limit=0) == []
        assert await harness.store.get_job(job.id) == job

    async def test_claim_takes_only_the_requested_queues(self, harness: Harness) -> None:
        a, b, c = (make_job(harness, queue=q) for q in ("a", "b", "c"))
        await add(harness, a, b, c)
        got = await claim(harness, queues=("a", "c", "missing"))
        assert sorted(j.id for j in got) == sorted([a.id, c.id])
        assert await harness.store.get_job(b.id) == b

    async def test_claim_sets_lease_start_token_and_attempts(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=3)
        await add(harness, job)
        await harness.clock.advance(2)
        now = harness.clock.now()
        expected = job.replace(
            status=JobStatus.RUNNING,
            lease_owner="w1",
            lease_expires_at=now + LEASE,
            started_at=now,
            token=1,
            attempts=1,
        )
        assert await claim(harness, worker="w1") == [expected]
        assert await harness.store.get_job(job.id) == expected
        assert await harness.store.get_attempts(job.id) == []

    async def test_concurrent_claimers_claim_every_job_exactly_once(self, harness: Harness) -> None:
        jobs = [make_job(harness, priority=n % 3) for n in range(200)]
        await add(harness, *jobs)
        stores = [await harness.another() for _ in range(8)]

        async def drain(store: Store, worker: str) -> list[str]:
            got: list[str] = []
            while batch := await claim(harness, store=store, worker=worker, limit=3):
                assert all(j.lease_owner == worker and j.token == 1 for j in batch)
                got.extend(j.id for j in batch)
            return got

        results = await asyncio.gather(*(drain(s, f"w{n}") for n, s in enumerate(stores)))
        counts = Counter(i for r in results for i in r)
        assert len(counts) == 200
        assert set(counts.values()) == {1}
        assert set(counts) == {j.id for j in jobs}

    async def test_expired_lease_is_reclaimed_with_a_lease_lost_attempt(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=3)
        await add(harness, job)
        t0 = harness.clock.now()
        await claim_one(harness, worker="w1", lease_for=sec(30))
        await harness.clock.advance(29.999)
        assert await claim(harness, worker="w2") == []
        await harness.clock.advance(0.001)
        now = harness.clock.now()
        (again,) = await claim(harness, worker="w2", lease_for=sec(30))
        assert again == job.replace(
            status=JobStatus.RUNNING,
            lease_owner="w2",
            lease_expires_at=now + sec(30),
            started_at=now,
            token=2,
            attempts=2,
        )
        assert await harness.store.get_attempts(job.id) == [
            Attempt(job.id, 1, "w1", started_at=t0, finished_at=now, outcome=Outcome.LEASE_LOST)
        ]

    async def test_expired_lease_on_the_last_attempt_fails_the_job(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=2)
        await add(harness, job)
        await claim_one(harness, worker="w1", lease_for=sec(10))
        await harness.clock.advance(10)
        await claim_one(harness, worker="w2", lease_for=sec(10))
        await harness.clock.advance(10)
        now = harness.clock.now()
        assert await claim(harness, worker="w3") == []
        stored = await harness.store.get_job(job.id)
        assert stored is not None
        assert stored.status is JobStatus.FAILED
        assert (stored.attempts, stored.token) == (2, 2)
        assert (stored.lease_owner, stored.lease_expires_at) == (None, None)
        assert stored.finished_at == now
        history = await harness.store.get_attempts(job.id)
        assert [(a.number, a.worker, a.outcome) for a in history] == [
            (1, "w1", Outcome.LEASE_LOST),
            (2, "w2", Outcome.LEASE_LOST),
        ]
        await harness.clock.advance(60)
        assert await claim(harness, worker="w3") == []

    async def test_expired_lease_jobs_compete_with_pending_ones_by_priority_then_due_at(
        self, harness: Harness
    ) -> None:
        stuck = make_job(harness, max_attempts=3)  # due first, then its worker vanishes
        await add(harness, stuck)
        await claim_one(harness, worker="w1", lease_for=sec(5))
        await harness.clock.advance(1)
        newer = make_job(harness)  # same priority, due later
        urgent = make_job(harness, priority=1, delay=1)  # higher priority, due latest
        await add(harness, newer, urgent)
        await harness.clock.advance(5)
        order = [(await claim_one(harness, worker="w2")).id for _ in range(3)]
        assert order == [urgent.id, stuck.id, newer.id]
