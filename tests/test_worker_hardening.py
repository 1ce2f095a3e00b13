"""The worker against what handlers, stores and outages throw at it (memory store, fake clock):
``BaseException`` from handlers, unusable retry delays, jobs no run can use, a slow ``finish``,
a stop during an outage's backoff."""

from __future__ import annotations

import asyncio
import collections
import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import rota
from rota import App, JobStatus, Outcome, RetryPolicy
from rota._models import ErrorInfo, Finish, Job
from rota.runtime.outcomes import failure
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock

WAIT = 10  # real seconds a test may wait for an event before it fails (never slept)


class Boom(BaseException):
    """A BaseException of the user's own."""


RAISED: list[type[BaseException]] = [SystemExit, KeyboardInterrupt, GeneratorExit, Boom]


@pytest.mark.parametrize("is_async", [True, False], ids=["async", "sync"])
@pytest.mark.parametrize("kind", RAISED, ids=lambda k: k.__name__)
async def test_a_handlers_base_exception_is_a_failed_attempt_and_the_batch_carries_on(
    app: App, kind: type[BaseException], is_async: bool
) -> None:
    done: list[int] = []
    exc = kind("from the handler")

    if is_async:

        @app.task(name="bad", retry=1)
        async def bad_async() -> None:
            raise exc

        bad: Any = bad_async
    else:

        @app.task(name="bad", retry=1)
        def bad_sync() -> None:
            raise exc

        bad = bad_sync

    @app.task
    async def good(n: int) -> None:
        await asyncio.sleep(0)  # still running when the bad one raises
        done.append(n)

    # one claim takes all three: the others of the batch must not be hurt by the bad one
    jobs = await app.enqueue_many([good.prepare(1), bad.prepare(), good.prepare(2)])
    async with app.worker(concurrency=3, claim_batch=3) as worker:
        await app.wait_until_idle(timeout=WAIT)
        later = await good.enqueue(3)  # the worker carries on
        await app.wait_until_idle(timeout=WAIT)
        assert worker.active == 0
    failed = await app.get_job(jobs[1].id)
    assert failed.status is JobStatus.FAILED
    [attempt] = await app.attempts(failed.id)
    assert attempt.outcome is Outcome.FAILED
    assert attempt.error_type == kind.__qualname__ and attempt.error_message == "from the handler"
    assert attempt.traceback is not None and "raise exc" in attempt.traceback
    for job in (jobs[0], jobs[2], later):
        stored = await app.get_job(job.id)
        assert (stored.status, stored.attempts) == (JobStatus.SUCCEEDED, 1)
    assert sorted(done) == [1, 2, 3]


class _Unusable(RetryPolicy):
    """A policy whose delay is whatever the test says (the App refuses such values where
    they are declared; a worker must not trust that every job's policy went through that)."""

    value: Any = math.nan

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return type(self).value  # type: ignore[no-any-return]


@pytest.mark.parametrize("delay", [math.nan, math.inf, -math.inf, 1e300, "soon"])
async def test_an_unusable_retry_delay_ends_the_job_instead_of_leaving_it_running(
    app: App, delay: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Unusable, "value", delay)

    @app.task(retry=_Unusable(attempts=3))
    async def flaky() -> None:
        raise RuntimeError("boom")

    @app.task
    async def after() -> None: ...

    job = await flaky.enqueue()
    async with app.worker(concurrency=1) as worker:
        await app.wait_until_idle(timeout=WAIT)
        assert worker.active == 0  # the slot is free again
        later = await after.enqueue()
        await app.wait_until_idle(timeout=WAIT)
    stored = await app.get_job(job.id)
    assert stored.status is JobStatus.FAILED and stored.lease_owner is None
    assert stored.last_error is not None and "not retried" in stored.last_error
    assert (await app.get_job(later.id)).status is JobStatus.SUCCEEDED


async def test_retry_after_nan_from_a_handler_ends_the_job(app: App) -> None:
    @app.task(retry=3)
    async def odd() -> None:
        signal = rota.Retry(after=1.0)
        signal.after = math.nan  # however it got there
        raise signal

    job = await odd.enqueue()
    async with app.worker(concurrency=1) as worker:
        await app.wait_until_idle(timeout=WAIT)
        assert worker.active == 0
    stored = await app.get_job(job.id)
    assert stored.status is JobStatus.FAILED and "not retried" in (stored.last_error or "")


def test_failure_turns_any_delay_into_a_retry_time_or_an_end() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    job = Job("j", "t", attempts=1, max_attempts=3, token=1, due_at=now)
    error = ErrorInfo("E", "boom")
    rng = random.Random(0)
    for after, expected in [(2.0, now + timedelta(seconds=2)), (-5.0, now), (0, now)]:
        fin = failure(job, None, Outcome.FAILED, error, now=now, rng=rng, after=after)
        assert fin.retry_at == expected
    for after in [math.nan, math.inf, 1e300, True, "5"]:
        fin = failure(job, None, Outcome.FAILED, error, now=now, rng=rng, after=after)  # type: ignore[arg-type]
        assert fin.retry_at is None and fin.final_status is JobStatus.FAILED
        assert fin.error is not None and fin.error.message.startswith("boom (not retried")


# -- jobs no run can use ---------------------------------------------------------------------


async def test_a_job_no_run_can_use_fails_alone_and_the_next_100_run(app: App) -> None:
    """The memory store's rows are the Job objects ``Store.add`` is given: a direct add (the
    App refuses these values) is how a bad row gets in."""
    ran: list[int] = []

    @app.task(name="work")
    async def work(n: int) -> None:
        ran.append(n)

    now = app.clock.now()
    bad = [
        Job("00-bad-priority", "work", payload=b"1", priority="x", due_at=now),  # type: ignore[arg-type]
        Job("00-bad-timeout", "work", payload=b"2", timeout=math.nan, due_at=now),
        Job("00-bad-due", "work", payload=b"3", due_at="yesterday"),  # type: ignore[arg-type]
    ]
    await app.open()  # the store is used directly: open it first, as the App would
    await app.store.add(bad, now=now)
    await app.enqueue_many(work.prepare(n) for n in range(100))
    async with app.worker(concurrency=10):
        await app.wait_until_idle(timeout=WAIT)
    for job, field in zip(bad, ["priority", "timeout", "due_at"], strict=True):
        stored = await app.get_job(job.id)
        assert stored.status is JobStatus.FAILED
        assert stored.last_error is not None and stored.last_error.startswith("InvalidJob")
        assert field in stored.last_error
    assert sorted(ran) == list(range(100))
    assert len(await app.list_jobs(limit=200)) == 103  # listing works with them in the store


# -- a slow store ----------------------------------------------------------------------------


class SlowFinish(MemoryStore):
    """Every ``finish`` takes ``latency`` seconds of the clock before it is applied."""

    def __init__(self, clock: FakeClock, latency: float) -> None:
        super().__init__()
        self.clock = clock
        self.latency = latency

    async def finish(self, results: Sequence[Finish], *, worker: str, now: datetime) -> list[bool]:
        await self.clock.sleep(self.latency)
        return await super().finish(results, worker=worker, now=self.clock.now())


async def test_a_slow_finish_never_lets_a_live_worker_run_a_job_twice(clock: FakeClock) -> None:
    store = SlowFinish(clock, latency=3.0)  # the outcome takes three leases to be durable
    runs: collections.Counter[int] = collections.Counter()
    apps = [App(store=store, clock=clock, instance_id=f"w{i}") for i in (1, 2)]
    for app in apps:

        @app.task(name="quick")
        async def quick(n: int) -> None:
            runs[n] += 1

    await apps[0].enqueue_many(apps[0].tasks["quick"].prepare(n) for n in range(40))
    workers = [app.worker(concurrency=4, lease=1.0) for app in apps]
    for worker in workers:
        await worker.start()
    try:
        for _ in range(600):  # a minute of the fake clock is plenty: 10 finishes of 3 s
            if (await store.stats()).total(JobStatus.SUCCEEDED) == 40:
                break
            await clock.advance(0.1)
    finally:
        for worker in workers:
            worker.stop()
        await clock.advance(10)
        for worker in workers:
            await asyncio.wait_for(worker.shutdown(), WAIT)
        for app in apps:
            await app.close()
    await store.open()  # closed with the apps; opened again, it holds what they left
    assert [n for n, c in runs.items() if c > 1] == []  # no job ran twice
    assert set(runs) == set(range(40))
    assert (await store.stats()).total(JobStatus.SUCCEEDED) == 40
    assert sum(w.counters.lost for w in workers) == 0


# -- outages ---------------------------------------------------------------------------------


async def test_a_stopping_worker_does_not_wait_out_an_outage_backoff(app: App, clock: FakeClock) -> None:
    async def down(**_: Any) -> list[Job]:
        raise rota.StoreUnavailable("connection refused")

    app.store.claim = down  # type: ignore[method-assign]
    worker = app.worker()
    await worker.start()
    for _ in range(8):  # grow the backoff to its 5 s cap
        await clock.wait_for_sleepers(2)  # heartbeat + backoff
        await clock.advance(clock.next_deadline() - clock.now())  # type: ignore[operator]
    await clock.wait_for_sleepers(2)
    # the fake clock stands still from here: only the stop can end the backoff pause
    await asyncio.wait_for(worker.shutdown(), WAIT)
