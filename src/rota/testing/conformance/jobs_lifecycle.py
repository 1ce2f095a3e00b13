"""After the claim: heartbeats, fenced finishes, retries, history, release on shutdown."""

from __future__ import annotations

from datetime import timedelta

from rota._models import (
    Attempt,
    ErrorInfo,
    Fence,
    Finish,
    JobStatus,
    LeaseRef,
    Outcome,
)
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import (
    add,
    claim,
    claim_one,
    finish,
    make_job,
    make_schedule,
    sec,
    sorted_ids,
)


class JobsLifecycle:
    async def test_heartbeat_extends_the_lease(self, harness: Harness) -> None:
        job = make_job(harness)
        await add(harness, job)
        claimed = await claim_one(harness, lease_for=sec(30))
        await harness.clock.advance(20)
        lost = await harness.store.heartbeat(
            [LeaseRef(job.id, claimed.token)], lease_for=sec(30), now=harness.clock.now()
        )
        assert lost == []
        stored = await harness.store.get_job(job.id)
        assert stored == claimed.replace(lease_expires_at=harness.clock.now() + sec(30))
        await harness.clock.advance(15)  # past the original expiry, inside the extended one
        assert await claim(harness, worker="w2") == []

    async def test_heartbeat_reports_stale_cancelled_expired_and_unknown_leases(
        self, harness: Harness
    ) -> None:
        healthy, stale, cancelled, expiring = (make_job(harness) for _ in range(4))
        await add(harness, healthy, stale, cancelled)
        long_ones = await claim(harness, limit=3, lease_for=sec(60))
        await add(harness, expiring)
        short = await claim_one(harness, lease_for=sec(10))
        await harness.store.cancel(cancelled.id, now=harness.clock.now())
        await harness.clock.advance(10)
        unknown = sorted_ids(1)[0]
        refs = [LeaseRef(j.id, j.token) for j in long_ones if j.id != stale.id]
        refs += [LeaseRef(stale.id, 2), LeaseRef(short.id, short.token), LeaseRef(unknown, 1)]
        lost = await harness.store.heartbeat(refs, lease_for=sec(60), now=harness.clock.now())
        assert sorted(lost) == sorted([stale.id, cancelled.id, expiring.id, unknown])
        stored = await harness.store.get_job(stale.id)
        assert stored is not None
        assert stored.status is JobStatus.RUNNING  # a wrong token changes nothing

    async def test_finish_success_records_attempt_and_result(self, harness: Harness) -> None:
        job = make_job(harness)
        await add(harness, job)
        t0 = harness.clock.now()
        claimed = await claim_one(harness)
        await harness.clock.advance(2)
        assert await finish(harness, claimed, result=b"42")
        now = harness.clock.now()
        assert await harness.store.get_job(job.id) == claimed.replace(
            status=JobStatus.SUCCEEDED,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            result=b"42",
        )
        assert await harness.store.get_attempts(job.id) == [
            Attempt(job.id, 1, "w1", started_at=t0, finished_at=now, outcome=Outcome.SUCCEEDED)
        ]

    async def test_finish_failure_records_error_info(self, harness: Harness) -> None:
        job = make_job(harness)
        await add(harness, job)
        claimed = await claim_one(harness)
        await harness.clock.advance(1)
        error = ErrorInfo("ValueError", "bad input", "Traceback...")
        assert await finish(harness, claimed, Outcome.FAILED, error=error, worker="w9")
        now = harness.clock.now()
        stored = await harness.store.get_job(job.id)
        assert stored == claimed.replace(
            status=JobStatus.FAILED,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            last_error="ValueError: bad input",
        )
        (attempt,) = await harness.store.get_attempts(job.id)
        assert attempt == Attempt(
            job.id,
            1,
            "w9",
            started_at=claimed.started_at or now,
            finished_at=now,
            outcome=Outcome.FAILED,
            error_type="ValueError",
            error_message="bad input",
            traceback="Traceback...",
        )

    async def test_finish_timed_out_ends_failed(self, harness: Harness) -> None:
        job = make_job(harness)
        await add(harness, job)
        claimed = await claim_one(harness)
        assert await finish(harness, claimed, Outcome.TIMED_OUT, error=ErrorInfo("Timeout", ""))
        stored = await harness.store.get_job(job.id)
        assert stored is not None
        assert (stored.status, stored.last_error) == (JobStatus.FAILED, "Timeout")
        (attempt,) = await harness.store.get_attempts(job.id)
        assert attempt.outcome is Outcome.TIMED_OUT

    async def test_finish_cancelled_outcome_ends_cancelled(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=5)
        await add(harness, job)
        claimed = await claim_one(harness)
        assert await finish(harness, claimed, Outcome.CANCELLED)
        stored = await harness.store.get_job(job.id)
        assert stored is not None
        assert stored.status is JobStatus.CANCELLED
        assert stored.finished_at == harness.clock.now()
        assert await claim(harness) == []

    async def test_finish_with_retry_at_makes_job_pending_until_then(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=3)
        await add(harness, job)
        claimed = await claim_one(harness)
        retry_at = harness.clock.now() + sec(10)
        error = ErrorInfo("IOError", "flaky")
        assert await finish(harness, claimed, Outcome.FAILED, retry_at=retry_at, error=error)
        assert await harness.store.get_job(job.id) == claimed.replace(
            status=JobStatus.PENDING,
            lease_owner=None,
            lease_expires_at=None,
            due_at=retry_at,
            last_error="IOError: flaky",
        )
        await harness.clock.advance(9.999)
        assert await claim(harness) == []
        await harness.clock.advance(0.001)
        again = await claim_one(harness, worker="w2")
        assert (again.id, again.token, again.attempts, again.started_at) == (
            job.id,
            2,
            2,
            retry_at,
        )

    async def test_history_records_every_attempt_numbered_by_token(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=3)
        await add(harness, job)
        first = await claim_one(harness, worker="w1", lease_for=sec(5))
        assert await finish(
            harness, first, Outcome.FAILED, retry_at=harness.clock.now(), error=ErrorInfo("E", "1")
        )
        await claim_one(harness, worker="w2", lease_for=sec(5))
        await harness.clock.advance(5)
        third = await claim_one(harness, worker="w3", lease_for=sec(5))
        assert await finish(harness, third, worker="w3")
        history = await harness.store.get_attempts(job.id)
        assert [(a.number, a.worker, a.outcome) for a in history] == [
            (1, "w1", Outcome.FAILED),
            (2, "w2", Outcome.LEASE_LOST),
            (3, "w3", Outcome.SUCCEEDED),
        ]
        assert history[0].error_message == "1"

    async def test_stale_token_cannot_finish(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=2)
        await add(harness, job)
        old = await claim_one(harness, worker="w1", lease_for=sec(10))
        await harness.clock.advance(10)
        new = await claim_one(harness, worker="w2", lease_for=sec(10))
        assert not await finish(harness, old, worker="w1", result=b"stale")
        assert await harness.store.get_job(job.id) == new
        assert len(await harness.store.get_attempts(job.id)) == 1  # only the lease_lost one
        assert await finish(harness, new, worker="w2")
        stored = await harness.store.get_job(job.id)
        assert stored is not None
        assert stored.status is JobStatus.SUCCEEDED

    async def test_finish_batch_reports_each_result(self, harness: Harness) -> None:
        a, b = make_job(harness), make_job(harness)
        await add(harness, a, b)
        ca, cb = await claim(harness, limit=2)
        results = [
            Finish(ca.id, ca.token, Outcome.SUCCEEDED),
            Finish(cb.id, cb.token + 1, Outcome.SUCCEEDED),
        ]
        assert await harness.store.finish(results, worker="w1", now=harness.clock.now()) == [
            True,
            False,
        ]
        assert await harness.store.get_job(cb.id) == cb

    async def test_finish_with_a_superseded_fence_is_rejected(self, harness: Harness) -> None:
        ttl = timedelta(seconds=10)
        old = await harness.store.acquire_lease("lead", owner="s1", ttl=ttl, now=harness.clock.now())
        assert old is not None
        job = make_job(harness)
        await add(harness, job)
        claimed = await claim_one(harness, lease_for=sec(60))
        await harness.clock.advance(10)
        new = await harness.store.acquire_lease("lead", owner="s2", ttl=ttl, now=harness.clock.now())
        assert new is not None
        stale = Finish(job.id, claimed.token, Outcome.SUCCEEDED, fence=Fence("lead", "s1", old.token))
        now = harness.clock.now()
        assert await harness.store.finish([stale], worker="w1", now=now) == [False]
        assert await harness.store.get_job(job.id) == claimed
        fresh = Finish(job.id, claimed.token, Outcome.SUCCEEDED, fence=Fence("lead", "s2", new.token))
        assert await harness.store.finish([fresh], worker="w1", now=now) == [True]

    async def test_release_gives_the_job_back_without_spending_an_attempt(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=2)
        await add(harness, job)
        claimed = await claim_one(harness, worker="w1")
        await harness.clock.advance(1)
        released = await harness.store.release([LeaseRef(job.id, claimed.token)], now=harness.clock.now())
        assert released == 1
        stored = await harness.store.get_job(job.id)
        assert stored is not None
        assert stored == job.replace(token=1, started_at=stored.started_at)
        assert claimed.started_at is not None
        assert await harness.store.get_attempts(job.id) == [
            Attempt(job.id, 1, "w1", claimed.started_at, harness.clock.now(), Outcome.RELEASED)
        ]
        again = await claim_one(harness, worker="w2")
        assert (again.token, again.attempts, again.lease_owner) == (2, 1, "w2")

    async def test_released_claims_stay_in_the_history_and_never_count(self, harness: Harness) -> None:
        job = make_job(harness, max_attempts=1)
        await add(harness, job)
        for n in (1, 2):
            claimed = await claim_one(harness, worker=f"w{n}")
            ref = LeaseRef(job.id, claimed.token)
            assert await harness.store.release([ref, ref], now=harness.clock.now()) == 1  # once
            await harness.clock.advance(1)
        last = await claim_one(harness, worker="w3")
        assert last.attempts == 1  # two releases spent nothing of max_attempts=1
        assert await finish(harness, last, worker="w3")
        history = await harness.store.get_attempts(job.id)
        assert [(a.number, a.worker, a.outcome) for a in history] == [
            (1, "w1", Outcome.RELEASED),
            (2, "w2", Outcome.RELEASED),
            (3, "w3", Outcome.SUCCEEDED),
        ]

    async def test_release_with_a_stale_token_does_nothing(self, harness: Harness) -> None:
        job = make_job(harness)
        await add(harness, job)
        claimed = await claim_one(harness)
        refs = [LeaseRef(job.id, claimed.token + 1), LeaseRef(sorted_ids(1)[0], 1)]
        assert await harness.store.release(refs, now=harness.clock.now()) == 0
        assert await harness.store.get_job(job.id) == claimed

    async def test_failed_scheduled_job_counts_against_its_schedule(self, harness: Harness) -> None:
        schedule = make_schedule(harness, "nightly", fire_in=3600)
        await harness.store.put_schedule(schedule, now=harness.clock.now())
        ok, bad = (make_job(harness, schedule_id="nightly") for _ in range(2))
        await add(harness, ok, bad)
        first, second = await claim(harness, limit=2)
        by_id = {first.id: first, second.id: second}
        assert await finish(harness, by_id[ok.id])
        stored = await harness.store.get_schedule("nightly")
        assert stored is not None
        assert (stored.fail_count, stored.last_error) == (0, None)
        assert await finish(harness, by_id[bad.id], Outcome.FAILED, error=ErrorInfo("E", "boom"))
        stored = await harness.store.get_schedule("nightly")
        assert stored is not None
        assert (stored.fail_count, stored.last_error) == (1, "E: boom")
