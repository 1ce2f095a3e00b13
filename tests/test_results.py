"""Results: ``app.result`` waits for a job to end (woken, not polling) and returns its value or
the typed error of how it ended; a result that cannot be stored fails the attempt. Memory
store and a fake clock; the cross-process wake-ups of PostgreSQL and Redis are at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

import rota
from rota import App, JobStatus, Outcome
from rota.stores.memory import MemoryStore
from rota.sync import SyncApp
from rota.testing import FakeClock

WAIT = 10  # real seconds a test may wait for an event before it fails (never slept)


@pytest.fixture
async def app(clock: FakeClock) -> AsyncIterator[App]:
    app = App(store=MemoryStore(), clock=clock, instance_id="w1", max_payload_bytes=1000)
    yield app
    await app.close()


@dataclass
class Report:
    day: str
    rows: int


async def test_result_waits_for_the_job_and_returns_the_typed_value(app: App) -> None:
    release = asyncio.Event()

    @app.task
    async def build(day: str) -> Report:
        await release.wait()
        return Report(day, 3)

    job = await build.enqueue("2026-12-01", id="report:2026-12-01")
    async with app.worker():
        waiter = asyncio.ensure_future(app.result(job.id, timeout=WAIT))
        await asyncio.sleep(0)  # (lets the waiter start: it must be waiting, not done)
        assert not waiter.done()
        release.set()
        assert await waiter == Report("2026-12-01", 3)
    assert await app.result(job.id) == Report("2026-12-01", 3)  # a finished job: at once


async def test_result_is_woken_by_the_finish_not_by_polling(app: App) -> None:
    """A wait that the store's wake-up ends reads the job a bounded number of times."""
    release = asyncio.Event()

    @app.task
    async def slow() -> int:
        await release.wait()
        return 7

    reads = 0
    get_job = app.store.get_job

    async def counting(job_id: str) -> rota.Job | None:
        nonlocal reads
        reads += 1
        return await get_job(job_id)

    app.store.get_job = counting  # type: ignore[method-assign]
    job = await slow.enqueue()
    async with app.worker():
        waiter = asyncio.ensure_future(app.result(job.id, timeout=WAIT))
        await asyncio.sleep(0.3)  # real time passes while the job runs: a poll would read often
        release.set()
        assert await waiter == 7
    assert reads <= 8  # 0.05 s doubling: 4 re-checks in 0.3 s, then the wake-up


async def test_a_dead_job_raises_job_failed_with_its_last_error(app: App) -> None:
    @app.task(retry=1)
    async def boom() -> None:
        raise ValueError("no such day")

    job = await boom.enqueue()
    async with app.worker():
        with pytest.raises(rota.JobFailed, match="ValueError: no such day") as caught:
            await app.result(job.id, timeout=WAIT)
    assert caught.value.job.status is JobStatus.FAILED
    assert caught.value.error is not None
    assert (caught.value.error.type, caught.value.error.message) == ("ValueError", "no such day")
    assert caught.value.error.traceback and "no such day" in caught.value.error.traceback


async def test_a_cancelled_job_raises_job_cancelled(app: App) -> None:
    @app.task
    async def t() -> None: ...

    job = await t.enqueue(delay=60)
    waiter = asyncio.ensure_future(app.result(job.id, timeout=WAIT))
    await asyncio.sleep(0)
    await app.cancel(job.id)
    with pytest.raises(rota.JobCancelled) as caught:
        await waiter
    assert caught.value.job.id == job.id


async def test_unknown_id_timeout_and_bad_arguments(app: App) -> None:
    @app.task
    async def t() -> None: ...

    with pytest.raises(rota.JobNotFound):
        await app.result("no-such-job", timeout=WAIT)
    job = await t.enqueue(delay=60)
    with pytest.raises(rota.ResultTimeout) as caught:
        await app.result(job.id, timeout=0.05)
    assert isinstance(caught.value, TimeoutError)
    for bad in ("", 3, "a\x00"):
        with pytest.raises(rota.ConfigError):
            await app.result(bad)  # type: ignore[arg-type]
    for timeout in (-1, float("nan"), "1", True):
        with pytest.raises(rota.ConfigError):
            await app.result(job.id, timeout=timeout)  # type: ignore[arg-type]


async def test_a_result_over_the_size_limit_fails_the_attempt_clearly(app: App) -> None:
    @app.task(retry=1)
    async def big() -> str:
        return "x" * 2000

    job = await big.enqueue()
    async with app.worker():
        with pytest.raises(rota.JobFailed, match="over the limit of 1,000") as caught:
            await app.result(job.id, timeout=WAIT)
    assert caught.value.error is not None and caught.value.error.type == "ResultError"
    [attempt] = await app.attempts(job.id)
    assert attempt.outcome is Outcome.FAILED
    assert (await app.get_job(job.id)).result is None


async def test_an_unencodable_result_fails_the_attempt_and_the_worker_goes_on(app: App) -> None:
    @app.task(retry=1)
    def odd() -> object:
        return object()

    @app.task
    def fine() -> int:
        return 1

    bad, good = await odd.enqueue(), await fine.enqueue()
    async with app.worker():
        with pytest.raises(rota.JobFailed, match="returned a object, which cannot be stored"):
            await app.result(bad.id, timeout=WAIT)
        assert await app.result(good.id, timeout=WAIT) == 1


async def test_a_result_of_a_task_not_registered_here_is_plain_json(app: App, clock: FakeClock) -> None:
    @app.task
    async def build(day: str) -> Report:
        return Report(day, 1)

    job = await build.enqueue("d")
    async with app.worker():
        await app.result(job.id, timeout=WAIT)
    other = App(store=app.store, clock=clock)  # a client that knows no tasks
    assert await other.result(job.id) == {"day": "d", "rows": 1}


def test_the_sync_facade_waits_too() -> None:
    with SyncApp(App("memory://")) as app:

        @app.app.task
        def double(n: int) -> int:
            return 2 * n

        job = app.enqueue(double, 21)
        worker = app.app.worker()
        app.call(worker.start)
        try:
            assert app.result(job.id, timeout=WAIT) == 42
        finally:
            app.call(worker.stop)
