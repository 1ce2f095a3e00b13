"""The worker under ``asyncio.eager_task_factory`` (Python 3.12+), which ``rota worker`` and
``manage.py rota_worker`` install on their loops: a handler that never suspends has settled
before ``create_task`` returns, and everything must still hold. Memory store, fake clock."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest

import rota
from rota import App, EventKind, JobStatus, Outcome, RetryPolicy
from rota.cli.worker import use_eager_tasks
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock
from tests.test_worker import Inbox

pytestmark = pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks are Python 3.12+")

WAIT = 10


@pytest.fixture
async def app(clock: FakeClock) -> AsyncIterator[App]:
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    use_eager_tasks(loop)
    assert loop.get_task_factory() is not previous
    app = App(store=MemoryStore(), clock=clock, instance_id="eager")
    try:
        yield app
    finally:
        await app.close()
        loop.set_task_factory(previous)


async def test_handlers_that_never_suspend_leave_no_timeout_timer_behind(app: App, clock: FakeClock) -> None:
    """Regression: the job's timeout watchdog was armed after ``create_task``; an eager run
    that had already settled kept its watchdog (a timer per job until its timeout: with a
    real clock, an hour's worth of jobs' timers)."""

    @app.task(timeout=3600)
    async def quick(n: int) -> int:
        return n * 2

    @app.task(timeout=3600)
    def blocking(n: int) -> int:  # a thread: settles later, its watchdog is cancelled as usual
        return n

    jobs = [await quick.enqueue(n) for n in range(50)] + [await blocking.enqueue(n) for n in range(5)]
    async with app.worker(concurrency=20):
        await app.wait_until_idle(timeout=WAIT)
        assert clock.sleepers < 20, clock.sleepers  # the worker's own loops, not one per job
    done = [await app.get_job(job.id) for job in jobs]
    assert {job.status for job in done} == {JobStatus.SUCCEEDED}
    assert [job.result for job in done[:3]] == [b"0", b"2", b"4"]


async def test_outcomes_retries_and_timeouts_under_eager_tasks(app: App, clock: FakeClock) -> None:
    failures = iter([True, False])

    @app.task(retry=RetryPolicy(attempts=3, backoff="fixed", base=1))
    async def flaky() -> str:
        if next(failures):
            raise RuntimeError("first attempt fails")
        return "ok"

    @app.task(timeout=5, retry=RetryPolicy(attempts=1))
    async def hang() -> None:
        await asyncio.Event().wait()

    @app.task
    async def cancels() -> None:
        raise rota.Cancel("not needed")

    retrying, ended = Inbox(app, EventKind.RETRYING), Inbox(app, EventKind.FAILED, EventKind.CANCELLED)
    a, b, c = await flaky.enqueue(), await hang.enqueue(), await cancels.enqueue()
    async with app.worker():
        await retrying.next()  # flaky's first attempt
        assert (await ended.next()).job.id == c.id
        await clock.advance(5)  # hang's timeout; flaky's retry is due
        assert (await ended.next()).job.id == b.id
        await app.wait_until_idle(timeout=WAIT)
    assert (await app.get_job(a.id)).status is JobStatus.SUCCEEDED
    assert [x.outcome for x in await app.attempts(a.id)] == [Outcome.FAILED, Outcome.SUCCEEDED]
    assert [x.outcome for x in await app.attempts(b.id)] == [Outcome.TIMED_OUT]
    assert (await app.get_job(c.id)).status is JobStatus.CANCELLED


async def test_shutdown_releases_running_jobs_under_eager_tasks(app: App, clock: FakeClock) -> None:
    started = Inbox(app, EventKind.STARTED)

    @app.task
    async def slow() -> None:
        await asyncio.Event().wait()

    jobs = [await slow.enqueue() for _ in range(3)]
    worker = app.worker(concurrency=3, grace=0)
    await worker.start()
    for _ in jobs:
        await started.next()
    await worker.stop()
    for job in jobs:
        stored = await app.get_job(job.id)
        assert (stored.status, stored.attempts, stored.lease_owner) == (JobStatus.PENDING, 0, None)
