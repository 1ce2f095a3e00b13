"""Adding jobs: bulk order, all-or-none, dedupe keys."""

from __future__ import annotations

from rota._models import JobFilter, JobStatus, Outcome
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import add, make_job, run_to_end, sec, sorted_ids


class JobsAdd:
    async def test_add_returns_one_created_result_per_job_in_input_order(self, harness: Harness) -> None:
        ids = sorted_ids(3)
        jobs = [make_job(harness, job_id=i) for i in reversed(ids)]
        results = await harness.store.add(jobs, now=harness.clock.now())
        assert [r.created for r in results] == [True, True, True]
        assert [r.job for r in results] == jobs

    async def test_add_then_get_round_trips_every_field(self, harness: Harness) -> None:
        now = harness.clock.now()
        job = make_job(harness, delay=5, key="k1", max_attempts=4, payload=b'{"a":[1,2]}')
        job = job.replace(
            task="mail.send",
            queue="q1",
            priority=-3,
            schedule_id="s1",
            fire_time=now - sec(1),
            timeout=2.5,
        )
        await add(harness, job)
        assert await harness.store.get_job(job.id) == job

    async def test_add_empty_list_returns_empty(self, harness: Harness) -> None:
        assert await harness.store.add([], now=harness.clock.now()) == []

    async def test_add_of_an_existing_id_returns_the_stored_job_not_created(self, harness: Harness) -> None:
        first = make_job(harness)
        await add(harness, first)
        fresh = make_job(harness)
        clash = make_job(harness, job_id=first.id, task="other")
        results = await harness.store.add([fresh, clash], now=harness.clock.now())
        assert [r.created for r in results] == [True, False]
        assert results[1].job == first  # the stored job, not the one sent
        assert await harness.store.get_job(fresh.id) == fresh
        assert await harness.store.get_job(first.id) == first

    async def test_a_retried_add_whose_reply_was_lost_is_not_an_error(self, harness: Harness) -> None:
        job = make_job(harness, key="once-only")
        await add(harness, job)
        claimed = await harness.store.claim(
            queues=["default"], worker="w1", limit=1, lease_for=sec(30), now=harness.clock.now()
        )
        assert [j.id for j in claimed] == [job.id]
        (again,) = await harness.store.add([job], now=harness.clock.now())
        assert again.created is False
        assert again.job.status is JobStatus.RUNNING  # the stored job, untouched
        assert await harness.store.get_job(job.id) == claimed[0]
        assert [j.id for j in await harness.store.list_jobs(JobFilter())] == [job.id]

    async def test_a_taken_id_wins_over_a_taken_key(self, harness: Harness) -> None:
        by_id = make_job(harness, job_id="caller:by-id")
        by_key = make_job(harness, key="taken")
        await harness.store.add([by_id, by_key], now=harness.clock.now())
        both = make_job(harness, job_id="caller:by-id", key="taken", task="other")
        (result,) = await harness.store.add([both], now=harness.clock.now())
        assert result.created is False
        assert result.job == by_id

    async def test_caller_chosen_ids_round_trip(self, harness: Harness) -> None:
        jobs = [make_job(harness, job_id=i) for i in ("report:2026-12-01", "a b/c\\é", "x" * 200)]
        results = await harness.store.add(jobs, now=harness.clock.now())
        assert [r.created for r in results] == [True, True, True]
        for job in jobs:
            assert await harness.store.get_job(job.id) == job
        claimed = await harness.store.claim(
            queues=["default"], worker="w1", limit=3, lease_for=sec(30), now=harness.clock.now()
        )
        assert sorted(j.id for j in claimed) == sorted(j.id for j in jobs)

    async def test_add_duplicate_key_returns_existing_job_not_created(self, harness: Harness) -> None:
        first = make_job(harness, key="dup")
        await add(harness, first)
        second = make_job(harness, key="dup", task="other")
        (result,) = await harness.store.add([second], now=harness.clock.now())
        assert result.created is False
        assert result.job == first
        assert await harness.store.get_job(second.id) is None

    async def test_add_duplicate_key_within_one_call_first_wins(self, harness: Harness) -> None:
        a, b, c = (make_job(harness, key=k) for k in ("k", "k", "other"))
        results = await harness.store.add([a, b, c], now=harness.clock.now())
        assert [r.created for r in results] == [True, False, True]
        assert [r.job.id for r in results] == [a.id, a.id, c.id]
        assert await harness.store.get_job(b.id) is None
        listed = await harness.store.list_jobs(JobFilter())
        assert sorted(j.id for j in listed) == sorted([a.id, c.id])

    async def test_dedupe_key_stays_taken_after_the_job_finishes(self, harness: Harness) -> None:
        done = await run_to_end(harness, make_job(harness, key="once"))
        again = make_job(harness, key="once")
        (result,) = await harness.store.add([again], now=harness.clock.now())
        assert result.created is False
        assert result.job.id == done.id
        assert result.job.status is JobStatus.SUCCEEDED

    async def test_purge_frees_the_dedupe_key(self, harness: Harness) -> None:
        await run_to_end(harness, make_job(harness, key="once"), Outcome.FAILED)
        await harness.clock.advance(1)
        assert await harness.store.purge(finished_before=harness.clock.now()) == 1
        again = make_job(harness, key="once")
        (result,) = await harness.store.add([again], now=harness.clock.now())
        assert result.created is True
        assert result.job == again

    async def test_get_job_of_unknown_id_returns_none(self, harness: Harness) -> None:
        assert await harness.store.get_job(sorted_ids(1)[0]) is None

    async def test_get_attempts_of_unknown_id_returns_empty(self, harness: Harness) -> None:
        assert await harness.store.get_attempts(sorted_ids(1)[0]) == []
