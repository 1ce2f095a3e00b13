"""Rate and concurrency limits, enforced by the claim (``Store.claim``, "Limits"): held-back
jobs are not spent and hold nothing up, slots free when jobs end or their leases expire, and
racing claimers never exceed a limit between them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from rota._errors import ConfigError
from rota._models import Attempt, Job, JobStatus, LeaseRef, Outcome
from rota.stores.base import Store
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import (
    add,
    claim,
    claim_one,
    finish,
    make_job,
    sec,
    sorted_ids,
)

# real seconds; only reached when a promised wake-up is missing (the test then fails)
WAIT = 5.0


def capped(job: Job, key: str = "k", limit: int = 1) -> Job:
    """``job`` under a concurrency limit."""
    return job.replace(concurrency_key=key, concurrency_limit=limit)


def paced(job: Job, key: str = "r", limit: int = 2, period: float = 1.0) -> Job:
    """``job`` under a rate limit of ``limit`` per ``period`` seconds."""
    return job.replace(rate_key=key, rate_limit=limit, rate_period=period)


def in_order(harness: Harness, n: int, **options: object) -> list[Job]:
    """``n`` jobs whose ids (hence claim order, all else equal) follow the list's order."""
    return [make_job(harness, job_id=i, **options) for i in sorted_ids(n)]  # type: ignore[arg-type]


def ids(jobs: list[Job]) -> list[str]:
    return [j.id for j in jobs]


class JobsLimited:
    # -- what is stored ---------------------------------------------------------------------

    async def test_limit_fields_round_trip(self, harness: Harness) -> None:
        both = paced(capped(make_job(harness), "acct:1", 3), "tenant:é", 100, 0.5)
        plain = make_job(harness)
        await add(harness, both, plain)
        assert await harness.store.get_job(both.id) == both
        assert await harness.store.get_job(plain.id) == plain
        claimed = await claim(harness)
        assert {j.id: (j.concurrency_key, j.rate_key, j.rate_period) for j in claimed} == {
            both.id: ("acct:1", "tenant:é", 0.5),
            plain.id: (None, None, None),
        }

    @pytest.mark.parametrize(
        "fields",
        [
            {"concurrency_key": "k"},
            {"concurrency_limit": 2},
            {"concurrency_key": "k", "concurrency_limit": 0},
            {"concurrency_key": "", "concurrency_limit": 1},
            {"concurrency_key": "k", "concurrency_limit": True},
            {"rate_key": "r", "rate_limit": 5},
            {"rate_key": "r", "rate_limit": 5, "rate_period": float("nan")},
            {"rate_key": "r", "rate_limit": 0, "rate_period": 1.0},
            {"rate_key": "r", "rate_limit": 5, "rate_period": -1.0},
            {"rate_key": "r", "rate_limit": 10**9, "rate_period": 1.0},
            {"rate_period": 1.0},
        ],
    )
    async def test_add_refuses_limit_fields_that_do_not_fit(
        self, harness: Harness, fields: dict[str, object]
    ) -> None:
        good = make_job(harness)
        bad = make_job(harness).replace(**fields)
        with pytest.raises(ConfigError):
            await harness.store.add([good, bad], now=harness.clock.now())
        assert await harness.store.get_job(good.id) is None

    # -- concurrency --------------------------------------------------------------------------

    async def test_a_concurrency_limit_holds_claims_to_it(self, harness: Harness) -> None:
        i = sorted_ids(3)
        jobs = [capped(make_job(harness, job_id=n), limit=2) for n in i]
        await add(harness, *jobs)
        assert ids(await claim(harness, limit=10)) == i[:2]
        assert await claim(harness, limit=10, worker="w2") == []
        assert await harness.store.get_job(i[2]) == jobs[2]

    async def test_a_held_back_job_is_not_spent(self, harness: Harness) -> None:
        running, waiting = (capped(j) for j in in_order(harness, 2, max_attempts=2))
        await add(harness, running, waiting)
        await claim_one(harness)
        for _ in range(3):
            assert await claim(harness, worker="w2") == []
            await harness.clock.advance(1)
        assert await harness.store.get_job(waiting.id) == waiting  # pending, attempts 0, token 0
        assert await harness.store.get_attempts(waiting.id) == []
        stats = await harness.store.stats()
        assert stats.counts["default"] == {JobStatus.RUNNING: 1, JobStatus.PENDING: 1}

    async def test_keys_are_limited_apart(self, harness: Harness) -> None:
        first, second, third = in_order(harness, 3)
        a1, a2, b1 = capped(first, "a"), capped(second, "a"), capped(third, "b")
        await add(harness, a1, a2, b1)
        assert sorted(ids(await claim(harness, limit=10))) == sorted([a1.id, b1.id])

    async def test_each_job_is_held_to_its_own_limit(self, harness: Harness) -> None:
        i = sorted_ids(3)
        first = capped(make_job(harness, job_id=i[0]), limit=1)
        strict = capped(make_job(harness, job_id=i[1]), limit=1)
        lenient = capped(make_job(harness, job_id=i[2]), limit=2)
        await add(harness, first, strict, lenient)
        # one running: strict (limit 1) waits, lenient (limit 2) may run beside it
        assert ids(await claim(harness, limit=10)) == [first.id, lenient.id]

    async def test_a_limited_job_does_not_hold_up_unlimited_ones_behind_it(self, harness: Harness) -> None:
        i = sorted_ids(6)
        urgent = [capped(make_job(harness, job_id=n, priority=9)) for n in i[:4]]
        plain_high = make_job(harness, job_id=i[4], priority=5)
        plain_low = make_job(harness, job_id=i[5], priority=0)
        await add(harness, *urgent, plain_low, plain_high)
        # in claim order: the first urgent job, then (its key full) the unlimited ones
        assert ids(await claim(harness, limit=3)) == [urgent[0].id, plain_high.id, plain_low.id]
        assert await claim(harness, limit=3) == []

    async def test_claim_order_holds_across_limited_and_unlimited_jobs(self, harness: Harness) -> None:
        i = sorted_ids(6)
        jobs = [
            capped(make_job(harness, job_id=i[0], priority=3), "a"),
            make_job(harness, job_id=i[1], priority=2),
            capped(make_job(harness, job_id=i[2], priority=2, delay=-1), "b"),
            paced(make_job(harness, job_id=i[3], priority=1), "r", 5),
            make_job(harness, job_id=i[4], priority=1, delay=1),
            make_job(harness, job_id=i[5], priority=0),
        ]
        await add(harness, *reversed(jobs))
        order = [j.id for j in await claim(harness, limit=2)] + [j.id for j in await claim(harness, limit=10)]
        assert order == [i[0], i[2], i[1], i[3], i[5]]  # i[4] is not due yet

    async def test_a_finished_job_frees_its_slot(self, harness: Harness) -> None:
        first, second = (capped(j) for j in in_order(harness, 2))
        await add(harness, first, second)
        held = await claim_one(harness)
        assert await claim(harness) == []
        assert await finish(harness, held)
        assert ids(await claim(harness)) == [second.id]

    async def test_a_retry_release_or_cancel_frees_the_slot(self, harness: Harness) -> None:
        i = sorted_ids(4)
        jobs = [capped(make_job(harness, job_id=n, max_attempts=3)) for n in i]
        await add(harness, *jobs)
        now = harness.clock.now()
        first = await claim_one(harness)
        assert first.id == i[0]
        assert await finish(harness, first, Outcome.FAILED, retry_at=now + sec(60))
        second = await claim_one(harness)
        assert second.id == i[1]
        assert await harness.store.release([LeaseRef(second.id, second.token)], now=now) == 1
        again = await claim_one(harness)
        assert again.id == i[1]
        await harness.store.cancel(i[1], now=now)
        assert ids(await claim(harness)) == [i[2]]

    async def test_an_expired_lease_frees_its_slot(self, harness: Harness) -> None:
        # the vanished worker's job sits in a queue this claimer does not serve: only its
        # lease expiry, not a reclaim, can free the slot
        gone = capped(make_job(harness, queue="elsewhere"))
        waiting = capped(make_job(harness))
        await add(harness, gone, waiting)
        await claim_one(harness, queues=("elsewhere",), lease_for=sec(10))
        assert await claim(harness, worker="w2") == []
        await harness.clock.advance(9.999)
        assert await claim(harness, worker="w2") == []
        await harness.clock.advance(0.001)
        assert ids(await claim(harness, worker="w2")) == [waiting.id]
        stored = await harness.store.get_job(gone.id)
        assert stored is not None
        assert stored.status is JobStatus.RUNNING  # untouched: nobody reclaimed it

    async def test_an_expired_job_held_back_is_pending_again_with_its_lost_attempt(
        self, harness: Harness
    ) -> None:
        stuck = capped(make_job(harness, max_attempts=3))  # alone: its id's order does not matter
        await add(harness, stuck)
        t0 = harness.clock.now()
        await claim_one(harness, lease_for=sec(5))
        await harness.clock.advance(5)
        eager = capped(make_job(harness, priority=1))  # ahead of the stuck job in claim order
        await add(harness, eager)
        now = harness.clock.now()
        assert ids(await claim(harness, worker="w2", limit=10)) == [eager.id]
        assert await harness.store.get_job(stuck.id) == stuck.replace(
            attempts=1, token=1, started_at=t0, status=JobStatus.PENDING
        )
        assert await harness.store.get_attempts(stuck.id) == [
            Attempt(stuck.id, 1, "w1", started_at=t0, finished_at=now, outcome=Outcome.LEASE_LOST)
        ]
        assert await claim(harness, worker="w2") == []
        await finish(harness, await _stored(harness, eager.id), worker="w2")
        (again,) = await claim(harness, worker="w3")
        assert (again.id, again.token, again.attempts, again.lease_owner) == (stuck.id, 2, 2, "w3")

    async def test_claimers_racing_at_a_limit_of_one_get_one_job_between_them(self, harness: Harness) -> None:
        await add(harness, *(capped(make_job(harness)) for _ in range(20)))
        stores = [harness.store] + [await harness.another() for _ in range(5)]
        for _ in range(3):
            got = await _race(harness, stores)
            assert len(got) == 1
            await finish(harness, got[0], worker=got[0].lease_owner or "")

    async def test_claimers_racing_at_a_limit_of_three_get_three_between_them(self, harness: Harness) -> None:
        await add(harness, *(capped(make_job(harness), limit=3) for _ in range(20)))
        stores = [harness.store] + [await harness.another() for _ in range(5)]
        assert len(await _race(harness, stores)) == 3
        assert len(await _race(harness, stores)) == 0

    # -- rate -----------------------------------------------------------------------------------

    async def test_a_rate_limit_allows_a_burst_then_one_job_per_interval(self, harness: Harness) -> None:
        i = sorted_ids(8)
        await add(harness, *(paced(make_job(harness, job_id=n), limit=4, period=2.0) for n in i))
        assert ids(await claim(harness, limit=10)) == i[:4]  # the burst: a full bucket
        assert await claim(harness, limit=10) == []
        await harness.clock.advance(0.499)
        assert await claim(harness, limit=10) == []
        await harness.clock.advance(0.001)  # a token every 2 s / 4
        assert ids(await claim(harness, limit=10)) == i[4:5]
        await harness.clock.advance(1)
        assert ids(await claim(harness, limit=10)) == i[5:7]
        await harness.clock.advance(60)  # the bucket fills up to 4 again, never beyond
        assert ids(await claim(harness, limit=10)) == i[7:]

    async def test_a_rate_held_job_is_not_spent_and_holds_nothing_up(self, harness: Harness) -> None:
        i = sorted_ids(4)
        fast = [paced(make_job(harness, job_id=n, priority=1), limit=1, period=10.0) for n in i[:2]]
        other_key = paced(make_job(harness, job_id=i[2], priority=1), key="other", limit=1, period=10.0)
        plain = make_job(harness, job_id=i[3])
        await add(harness, *fast, other_key, plain)
        assert ids(await claim(harness, limit=10)) == [fast[0].id, other_key.id, plain.id]
        assert await harness.store.get_job(fast[1].id) == fast[1]
        assert await harness.store.get_attempts(fast[1].id) == []

    async def test_claimers_racing_for_a_bucket_never_take_more_than_it_holds(self, harness: Harness) -> None:
        await add(harness, *(paced(make_job(harness), limit=5, period=10.0) for _ in range(30)))
        stores = [harness.store] + [await harness.another() for _ in range(5)]
        assert len(await _race(harness, stores)) == 5
        await harness.clock.advance(2)
        assert len(await _race(harness, stores)) == 1

    async def test_a_job_held_by_its_concurrency_limit_takes_no_token(self, harness: Harness) -> None:
        first, second, third = (paced(j, limit=2, period=10.0) for j in in_order(harness, 3))
        first, second = capped(first), capped(second)  # the third: same bucket, no concurrency limit
        await add(harness, first, second, third)
        assert ids(await claim(harness, limit=10)) == [first.id, third.id]
        await harness.clock.advance(5)  # one token back
        running = await _stored(harness, first.id)
        assert await finish(harness, running)
        assert ids(await claim(harness, limit=10)) == [second.id]

    # -- when held-back jobs may run ------------------------------------------------------------

    async def test_next_due_of_a_job_held_by_its_concurrency_limit_is_when_a_slot_may_free(
        self, harness: Harness
    ) -> None:
        a, b, waiting = (capped(make_job(harness), limit=2) for _ in range(3))
        await add(harness, a, b)
        await claim_one(harness, lease_for=sec(30))
        await harness.clock.advance(1)
        await claim_one(harness, lease_for=sec(30))
        await add(harness, waiting)
        # not its own due time (now): a slot frees when a job ends (a wake-up) or at the
        # first lease expiry
        first_expiry = harness.clock.now() - sec(1) + sec(30)
        assert await harness.store.next_due(queues=["default"]) == first_expiry

    async def test_next_due_of_a_rate_held_job_is_when_its_bucket_has_a_token(self, harness: Harness) -> None:
        i = sorted_ids(3)
        await add(harness, *(paced(make_job(harness, job_id=n), limit=2, period=1.0) for n in i))
        t0 = harness.clock.now()
        assert len(await claim(harness, limit=10)) == 2
        assert await harness.store.next_due(queues=["default"]) == t0 + timedelta(milliseconds=500)
        later = make_job(harness, delay=0.2)  # an unlimited job due sooner counts first
        await add(harness, later)
        assert await harness.store.next_due(queues=["default"]) == t0 + timedelta(milliseconds=200)

    async def test_a_slot_freed_by_finish_wakes_job_waiters(self, harness: Harness) -> None:
        store = harness.store
        first, second = capped(make_job(harness)), capped(make_job(harness))
        await add(harness, first, second)
        held = await claim_one(harness)
        while await store.wait_for_jobs(0):
            pass
        assert await finish(harness, held)
        assert await store.wait_for_jobs(WAIT)
        again = await claim_one(harness)
        while await store.wait_for_jobs(0):
            pass
        await store.cancel(again.id, now=harness.clock.now())
        assert await store.wait_for_jobs(WAIT)

    async def test_a_held_back_job_is_claimed_once_its_slot_is_free_at_any_later_time(
        self, harness: Harness
    ) -> None:
        jobs = [capped(make_job(harness), limit=1) for _ in range(5)]
        await add(harness, *jobs)
        seen: list[str] = []
        for _ in jobs:
            (got,) = await claim(harness, limit=5)
            seen.append(got.id)
            await harness.clock.advance(0.5)
            assert await finish(harness, got)
        assert sorted(seen) == sorted(j.id for j in jobs)
        assert await claim(harness) == []


async def _stored(harness: Harness, job_id: str) -> Job:
    job = await harness.store.get_job(job_id)
    assert job is not None
    return job


async def _race(harness: Harness, stores: list[Store]) -> list[Job]:
    """Every store claims at once (each up to 5 jobs); the jobs they got between them."""
    batches = await asyncio.gather(
        *(claim(harness, store=s, worker=f"w{n}", limit=5) for n, s in enumerate(stores))
    )
    return [j for batch in batches for j in batch]
