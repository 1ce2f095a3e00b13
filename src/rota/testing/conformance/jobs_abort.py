"""Abort (``Store.abort``): a pending job is cancelled, a running one too with its attempt
recorded as ``aborted`` and its lease revoked; a job that already ended is left as it was,
with no error; an abort racing the run's own finish lands once, never both."""

from __future__ import annotations

import asyncio

import pytest

from rota._errors import ConfigError, JobNotFound
from rota._models import AbortResult, Attempt, Finish, JobStatus, LeaseRef, Outcome
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
from rota.testing.conformance.jobs_ended import Heard

# real seconds; only reached when a promised wake-up is missing (the test then fails)
WAIT = 5.0


class JobsAbort:
    async def test_abort_pending_job_cancels_it_with_the_reason(self, harness: Harness) -> None:
        job = make_job(harness, delay=5)
        await add(harness, job)
        heard = Heard(harness.store)
        await harness.clock.advance(1)
        now = harness.clock.now()
        done = await harness.store.abort(job.id, reason="not needed", now=now)
        expected = job.replace(status=JobStatus.CANCELLED, finished_at=now, last_error="Aborted: not needed")
        assert done == AbortResult(expected, applied=True)
        assert await harness.store.get_job(job.id) == expected
        assert await harness.store.get_attempts(job.id) == []  # it never ran: no attempt
        await heard.wait_for(job.id)
        heard.stop()
        await harness.clock.advance(10)
        assert await claim(harness) == []

    async def test_abort_running_job_records_an_aborted_attempt_once(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=3)
        await add(harness, job)
        t0 = harness.clock.now()
        claimed = await claim_one(harness, worker="w1")
        await harness.clock.advance(1)
        now = harness.clock.now()
        done = await harness.store.abort(job.id, reason="operator", now=now)
        expected = claimed.replace(
            status=JobStatus.CANCELLED, lease_owner=None, lease_expires_at=None, finished_at=now,
            last_error="Aborted: operator",
        )  # fmt: skip
        assert done == AbortResult(expected, applied=True)
        # the worker learns it from its heartbeat, and its outcome is refused (fenced)
        ref = LeaseRef(job.id, claimed.token)
        assert await harness.store.heartbeat([ref], lease_for=sec(30), now=now) == [job.id]
        assert not await finish(harness, claimed, Outcome.FAILED)
        assert await harness.store.get_job(job.id) == expected
        assert await harness.store.get_attempts(job.id) == [
            Attempt(
                job.id, 1, "w1", started_at=t0, finished_at=now, outcome=Outcome.ABORTED,
                error_type="Aborted", error_message="operator",
            )
        ]  # fmt: skip
        await harness.clock.advance(60)
        assert await claim(harness) == []  # never run again, even after its lease would expire

    async def test_abort_without_a_reason(self, harness: Harness) -> None:
        job = make_job(harness)
        await add(harness, job)
        await claim_one(harness)
        done = await harness.store.abort(job.id, now=harness.clock.now())
        assert done.applied
        assert done.job.last_error == "Aborted"
        (attempt,) = await harness.store.get_attempts(job.id)
        assert (attempt.outcome, attempt.error_type, attempt.error_message or "") == (
            Outcome.ABORTED, "Aborted", ""
        )  # fmt: skip

    async def test_abort_of_a_finished_job_changes_nothing(self, harness: Harness) -> None:
        store = harness.store
        succeeded = await run_to_end(harness, make_job(harness))
        failed = await run_to_end(harness, make_job(harness), Outcome.FAILED)
        cancelled = make_job(harness)
        await add(harness, cancelled)
        cancelled = await store.cancel(cancelled.id, now=harness.clock.now())
        await harness.clock.advance(1)
        for job in (succeeded, failed, cancelled):
            history = await store.get_attempts(job.id)
            done = await store.abort(job.id, reason="too late", now=harness.clock.now())
            assert done == AbortResult(job, applied=False)
            assert await store.get_job(job.id) == job
            assert await store.get_attempts(job.id) == history

    async def test_abort_of_an_unknown_job_raises_job_not_found(self, harness: Harness) -> None:
        with pytest.raises(JobNotFound):
            await harness.store.abort(sorted_ids(1)[0], reason="x", now=harness.clock.now())

    async def test_abort_with_a_bad_reason_raises_config_error_and_writes_nothing(
        self, harness: Harness
    ) -> None:
        job = make_job(harness)
        await add(harness, job)
        for bad in ("x" * 1001, "a\x00b", 7, None, b"bytes"):
            with pytest.raises(ConfigError):
                await harness.store.abort(job.id, reason=bad, now=harness.clock.now())  # type: ignore[arg-type]
        assert await harness.store.get_job(job.id) == job

    async def test_abort_racing_finish_lands_once(self, harness: Harness) -> None:
        """Whichever lands first wins; the other writes nothing; never both."""
        store, other = harness.store, await harness.another()
        jobs = [make_job(harness, job_id=i) for i in sorted_ids(12)]
        await add(harness, *jobs)
        claimed = await claim(harness, limit=len(jobs))
        assert len(claimed) == len(jobs)
        now = harness.clock.now()
        wins = {"abort": 0, "finish": 0}
        for i, job in enumerate(claimed):
            fin = Finish(job.id, job.token, Outcome.SUCCEEDED, result=b"1")
            ending = other.finish([fin], worker="w1", now=now)
            aborting = store.abort(job.id, reason="race", now=now)
            if i % 2:  # either call may be sent first
                (applied,), aborted = await asyncio.gather(ending, aborting)
            else:
                aborted, (applied,) = await asyncio.gather(aborting, ending)
            assert applied is not aborted.applied, (job.id, applied, aborted)
            stored = await store.get_job(job.id)
            history = await store.get_attempts(job.id)
            assert stored is not None
            assert len(history) == 1, history
            if aborted.applied:
                wins["abort"] += 1
                assert stored == aborted.job
                assert stored.status is JobStatus.CANCELLED
                assert history[0].outcome is Outcome.ABORTED
            else:
                wins["finish"] += 1
                assert stored.status is JobStatus.SUCCEEDED
                assert stored.result == b"1"
                assert aborted.job == stored
                assert history[0].outcome is Outcome.SUCCEEDED
        assert sum(wins.values()) == len(jobs)

    async def test_abort_of_a_running_job_frees_its_concurrency_slot(self, harness: Harness) -> None:
        store = harness.store
        first, second = (
            make_job(harness, job_id=i).replace(concurrency_key="acct", concurrency_limit=1)
            for i in sorted_ids(2)
        )
        await add(harness, first, second)
        assert [j.id for j in await claim(harness)] == [first.id]
        assert await claim(harness) == []  # held back by the limit
        await store.wait_for_jobs(0)  # (clears an earlier wake-up)
        waiting = asyncio.ensure_future(store.wait_for_jobs(WAIT))
        await asyncio.sleep(0)
        assert (await store.abort(first.id, reason="slot", now=harness.clock.now())).applied
        assert await waiting  # waiters are woken: a slot is free
        assert [j.id for j in await claim(harness, worker="w2")] == [second.id]

    async def test_other_processes_hear_an_abort_with_its_id(self, harness: Harness) -> None:
        store = harness.store
        if not store.hears_ended:
            return  # this store hears only its own process (the tests above)
        other = await harness.another()
        heard = Heard(other)
        await other.wait_for_jobs(0)  # (returns once its subscription, if it has one, is on)
        job = make_job(harness)
        await add(harness, job)
        await claim_one(harness)
        assert (await store.abort(job.id, reason="stop", now=harness.clock.now())).applied
        await heard.wait_for(job.id)
        heard.stop()
