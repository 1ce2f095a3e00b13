"""What a job carries and reports: its headers, and the progress of its running attempt
(conditional on the claim's token, cleared by the next claim)."""

from __future__ import annotations

import pytest

from rota._errors import ConfigError
from rota._models import MAX_HEADERS, Finish, JobFilter, LeaseRef, Outcome, Progress
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import add, claim, claim_one, finish, make_job, sec

TRACE = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "tracestate": "rota=t61rcWkgMzE,vendor=ü",
}


async def progress(h: Harness, job_id: str, token: int, fraction: float, message: str | None = None) -> bool:
    return await h.store.set_progress(LeaseRef(job_id, token), Progress(fraction, message), now=h.clock.now())


class JobsProgress:
    async def test_headers_round_trip_through_add_claim_and_reads(self, harness: Harness) -> None:
        job = make_job(harness).replace(headers=dict(TRACE))
        (stored,) = await add(harness, job)
        assert stored.headers == TRACE
        assert (await harness.store.get_job(job.id)) == job
        claimed = await claim_one(harness)
        assert claimed.headers == TRACE
        assert [j.headers for j in await harness.store.list_jobs(JobFilter())] == [TRACE]

    async def test_a_job_without_headers_reads_back_none(self, harness: Harness) -> None:
        (stored,) = await add(harness, make_job(harness))
        assert stored.headers is None
        assert (await claim_one(harness)).headers is None

    async def test_headers_out_of_bounds_are_refused_and_nothing_is_written(self, harness: Harness) -> None:
        good = make_job(harness)
        bad_headers: list[object] = [
            {f"h{n}": "v" for n in range(MAX_HEADERS + 1)},
            {"traceparent": "x" * 5000},
            {"k": 1},
            {"": "v"},
            {"k": "a\x00b"},
            [("k", "v")],
        ]
        for headers in bad_headers:
            bad = make_job(harness).replace(headers=headers)
            with pytest.raises(ConfigError):
                await harness.store.add([good, bad], now=harness.clock.now())
        assert await harness.store.list_jobs(JobFilter()) == []

    async def test_progress_of_a_running_job_is_stored_without_touching_its_lease(
        self, harness: Harness
    ) -> None:
        await add(harness, make_job(harness))
        claimed = await claim_one(harness)
        await harness.clock.advance(2)
        assert await progress(harness, claimed.id, claimed.token, 0.25, "a quarter")
        stored = await harness.store.get_job(claimed.id)
        assert stored is not None
        assert (stored.progress, stored.progress_message) == (0.25, "a quarter")
        assert stored.progress_at == harness.clock.now()
        at = stored.progress_at
        assert stored == claimed.replace(progress=0.25, progress_message="a quarter", progress_at=at)
        assert await progress(harness, claimed.id, claimed.token, 1)
        stored = await harness.store.get_job(claimed.id)
        assert stored is not None
        assert (stored.progress, stored.progress_message) == (1.0, None)

    async def test_progress_is_conditional_on_the_token(self, harness: Harness) -> None:
        await add(harness, make_job(harness, max_attempts=3))
        first = await claim_one(harness, lease_for=sec(5))
        await harness.clock.advance(5)
        second = await claim_one(harness, worker="w2")  # the first lease expired: reclaimed
        assert second.token == first.token + 1
        assert await progress(harness, second.id, second.token, 0.5, "new")
        assert not await progress(harness, first.id, first.token, 0.9, "stale")  # dropped
        stored = await harness.store.get_job(first.id)
        assert stored is not None
        assert (stored.progress, stored.progress_message) == (0.5, "new")

    async def test_progress_of_a_job_that_does_not_run_is_dropped(self, harness: Harness) -> None:
        pending = make_job(harness)
        done = make_job(harness)
        await add(harness, done)
        claimed = await claim_one(harness)
        assert await finish(harness, claimed)
        await add(harness, pending)
        assert not await progress(harness, pending.id, 0, 0.5)
        assert not await progress(harness, pending.id, 1, 0.5)
        assert not await progress(harness, done.id, claimed.token, 0.5)
        assert not await progress(harness, "no-such-job", 1, 0.5)
        for job_id in (pending.id, done.id):
            stored = await harness.store.get_job(job_id)
            assert stored is not None
            assert (stored.progress, stored.progress_message, stored.progress_at) == (None, None, None)

    async def test_the_outcome_can_carry_the_last_progress(self, harness: Harness) -> None:
        await add(harness, make_job(harness), make_job(harness))
        a, b = await claim(harness, limit=2)
        await harness.clock.advance(1)
        last = Progress(1.0, "done")
        results = [
            Finish(a.id, a.token, Outcome.SUCCEEDED, progress=last),
            Finish(b.id, b.token + 1, Outcome.SUCCEEDED, progress=last),  # stale: nothing written
        ]
        assert await harness.store.finish(results, worker="w1", now=harness.clock.now()) == [True, False]
        stored_a, stored_b = await harness.store.get_job(a.id), await harness.store.get_job(b.id)
        assert stored_a is not None
        assert stored_b is not None
        assert (stored_a.progress, stored_a.progress_message) == (1.0, "done")
        assert stored_a.progress_at == harness.clock.now()
        assert (stored_b.progress, stored_b.status) == (None, b.status)

    async def test_a_retry_keeps_the_progress_until_the_next_claim_clears_it(self, harness: Harness) -> None:
        await add(harness, make_job(harness, max_attempts=2))
        first = await claim_one(harness)
        assert await progress(harness, first.id, first.token, 0.6, "failed here")
        retry_at = harness.clock.now() + sec(10)
        assert await finish(harness, first, Outcome.FAILED, retry_at=retry_at)
        waiting = await harness.store.get_job(first.id)
        assert waiting is not None
        assert (waiting.progress, waiting.progress_message) == (0.6, "failed here")
        await harness.clock.advance(10)
        second = await claim_one(harness)
        assert (second.progress, second.progress_message, second.progress_at) == (None, None, None)
        stored = await harness.store.get_job(first.id)
        assert stored is not None
        assert (stored.progress, stored.progress_message, stored.progress_at) == (None, None, None)

    async def test_progress_values_are_checked(self, harness: Harness) -> None:
        await add(harness, make_job(harness))
        claimed = await claim_one(harness)
        for fraction in (float("nan"), -0.01, 1.5, True, "0.5", float("inf")):
            with pytest.raises(ConfigError):
                Progress(fraction)  # type: ignore[arg-type]
        for message in ("x" * 1001, "a\x00b", 5):
            with pytest.raises(ConfigError):
                Progress(0.5, message)  # type: ignore[arg-type]
        ref = LeaseRef(claimed.id, claimed.token)
        with pytest.raises(ConfigError):
            await harness.store.set_progress(ref, 0.5, now=harness.clock.now())  # type: ignore[arg-type]
        stored = await harness.store.get_job(claimed.id)
        assert stored is not None
        assert stored.progress is None
