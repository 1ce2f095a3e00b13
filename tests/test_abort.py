"""Abort: ``app.abort`` stops a job wherever it is. A running ``async def`` handler is
cancelled, a plain ``def`` handler sees ``ctx.aborted``; the store records the ``aborted``
attempt once; a job that already ended is left as it was. The memory store with a fake clock
first; then SQLite across two store instances (no wake-up channel: the heartbeat finds it);
then PostgreSQL and Redis, where the worker (an App with its own connection) must stop the
run within 1 s of the abort, measured in real time."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import rota
from rota import AbortResult, App, EventKind, JobStatus, Outcome
from rota.stores.memory import MemoryStore
from rota.sync import SyncApp
from rota.testing import FakeClock

WAIT = 10  # real seconds a test may wait for an event before it fails (never slept)
#: the promise for PostgreSQL and Redis: the handler hears of the abort within this (real s)
LATENCY = 1.0


@pytest.fixture
async def app(clock: FakeClock) -> AsyncIterator[App]:
    app = App(store=MemoryStore(), clock=clock, instance_id="w1")
    yield app
    await app.close()


async def test_a_running_async_handler_is_cancelled_and_the_attempt_recorded_once(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rota.jobs")
    running, stopped = asyncio.Event(), asyncio.Event()
    events: list[rota.Event] = []
    app.on(EventKind.ABORTED, events.append)

    @app.task(name="long")
    async def long() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise

    job = await long.enqueue()
    async with app.worker(lease=30) as worker:
        await asyncio.wait_for(running.wait(), WAIT)
        done = await app.abort(job.id, reason="wrong input")
        assert done.applied
        assert done.job.status is JobStatus.CANCELLED
        # heard in this process at once: no heartbeat (the fake clock stands still)
        await asyncio.wait_for(stopped.wait(), WAIT)
        assert (worker.counters.aborted, worker.counters.lost) == (1, 0)
    stored = await app.get_job(job.id)
    assert stored.status is JobStatus.CANCELLED
    assert stored.last_error == "Aborted: wrong input"
    [attempt] = await app.attempts(job.id)
    assert (attempt.outcome, attempt.error_type, attempt.error_message) == (
        Outcome.ABORTED, "Aborted", "wrong input"
    )  # fmt: skip
    [event] = events
    assert event.outcome is Outcome.ABORTED
    assert event.worker == "w1"
    assert event.error is not None
    assert event.error.message == "wrong input"
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "aborted"]
    assert record.levelno == logging.INFO
    assert record.getMessage() == f"job {job.id} (long) aborted while it ran after 0.000s: wrong input"


async def test_a_sync_handler_sees_ctx_aborted_and_current_job_aborted(app: App) -> None:
    started, seen = threading.Event(), threading.Event()
    saw: list[tuple[bool, bool]] = []

    @app.task
    def crunch(ctx: rota.JobContext) -> None:
        saw.append((ctx.aborted, rota.current_job().aborted))  # type: ignore[union-attr]
        started.set()
        for _ in range(2000):  # how a def handler stops early: it polls ctx.aborted
            if ctx.aborted:
                current = rota.current_job()
                saw.append((ctx.aborted, current is not None and current.aborted))
                seen.set()
                return
            time.sleep(0.005)

    job = await crunch.enqueue()
    async with app.worker(lease=30) as worker:
        assert await asyncio.to_thread(started.wait, WAIT)
        assert (await app.abort(job.id, reason="enough")).applied
        assert await asyncio.to_thread(seen.wait, WAIT)
        assert worker.counters.aborted == 1
    assert saw == [(False, False), (True, True)]
    assert [a.outcome for a in await app.attempts(job.id)] == [Outcome.ABORTED]
    assert (await app.get_job(job.id)).status is JobStatus.CANCELLED


async def test_a_pending_job_is_cancelled_and_its_result_waiters_hear_it(app: App) -> None:
    @app.task
    async def later() -> int:
        return 1

    job = await later.enqueue(delay=60)
    waiter = asyncio.ensure_future(app.result(job.id, timeout=WAIT))
    await asyncio.sleep(0)
    done = await app.abort(job.id)
    assert done.applied
    assert done.job.status is JobStatus.CANCELLED
    assert done.job.last_error == "Aborted"
    with pytest.raises(rota.JobCancelled):
        await waiter
    assert await app.attempts(job.id) == []


async def test_a_finished_job_is_unchanged(app: App) -> None:
    @app.task
    async def quick() -> int:
        return 5

    job = await quick.enqueue()
    async with app.worker() as worker:
        assert await app.result(job.id, timeout=WAIT) == 5
        assert worker.counters.succeeded == 1
    before = await app.get_job(job.id)
    done = await app.abort(job.id, reason="too late")
    assert done == AbortResult(before, applied=False)
    assert await app.get_job(job.id) == before
    assert [a.outcome for a in await app.attempts(job.id)] == [Outcome.SUCCEEDED]
    assert await app.result(job.id) == 5


async def test_bad_arguments_are_clear_errors(app: App) -> None:
    with pytest.raises(rota.JobNotFound):
        await app.abort("no-such-job")
    with pytest.raises(rota.ConfigError):
        await app.abort("")

    @app.task(name="t")
    async def t() -> None: ...

    job = await t.enqueue()
    with pytest.raises(rota.ConfigError):
        await app.abort(job.id, reason="x" * 1001)
    assert (await app.get_job(job.id)).status is JobStatus.PENDING


def test_the_sync_facade_aborts_too() -> None:
    with SyncApp(App("memory://")) as app:

        @app.app.task(name="later")
        def later() -> None: ...

        job = app.enqueue(later, delay=60)
        done = app.abort(job.id, reason="sync")
        assert done.applied
        assert done.job.last_error == "Aborted: sync"


async def test_sqlite_without_a_channel_the_next_heartbeat_finds_the_abort(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Two store instances on one file (two processes, as far as the stores know): nothing is
    announced to the worker's; its heartbeat (a third of the lease) finds the lease gone and
    the check tells the abort from a lost lease."""
    url = f"sqlite:///{tmp_path / 'abort.db'}"
    runner, operator = App(url, clock=clock, instance_id="w1"), App(url, clock=clock, instance_id="op")
    running, stopped = asyncio.Event(), asyncio.Event()

    @runner.task(name="long")
    async def long() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.set()
            raise

    try:
        job = await runner.enqueue("long")
        async with runner.worker(lease=30) as worker:
            await asyncio.wait_for(running.wait(), WAIT)
            assert (await operator.abort(job.id, reason="elsewhere")).applied
            assert not stopped.is_set()
            await clock.advance(10)  # the next heartbeat
            await asyncio.wait_for(stopped.wait(), WAIT)
            assert (worker.counters.aborted, worker.counters.lost) == (1, 0)
        assert [a.outcome for a in await runner.attempts(job.id)] == [Outcome.ABORTED]
    finally:
        await operator.close()
        await runner.close()


# -- PostgreSQL and Redis: within 1 s, across connections ------------------------------------


@pytest.fixture(params=["postgres", "redis"])
def wired_url(request: pytest.FixtureRequest) -> str:
    """A fresh store URL on a server with a wake-up channel."""
    name = uuid.uuid4().hex[:12]
    if request.param == "postgres":
        from tests.servers.postgres import with_query

        return with_query(request.getfixturevalue("postgres_server").url, schema=f"ab_{name}")
    from tests.servers.redis import with_prefix

    return with_prefix(request.getfixturevalue("redis_url"), f"ab{name}")


@pytest.mark.slow
async def test_the_worker_stops_an_aborted_run_within_a_second(
    wired_url: str, request: pytest.FixtureRequest
) -> None:
    """The worker's App and the operator's App each have their own store and connections; the
    lease is long (60 s), so only the store's channel can tell the worker in time."""
    runner, operator = App(wired_url, instance_id="w1"), App(wired_url, instance_id="op")
    loop = asyncio.get_running_loop()
    started, cancelled_at = asyncio.Event(), loop.create_future()
    thread_started, thread_saw = threading.Event(), threading.Event()
    saw_at: list[float] = []

    @runner.task(name="long")
    async def long() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled_at.set_result(time.monotonic())
            raise

    @runner.task(name="crunch")
    def crunch(ctx: rota.JobContext) -> None:
        thread_started.set()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if ctx.aborted:
                saw_at.append(time.monotonic())
                thread_saw.set()
                return
            time.sleep(0.002)

    @runner.task(name="quick")
    async def quick() -> int:
        return 3

    try:
        await operator.open()
        async with runner.worker(lease=60, concurrency=4) as worker:
            # an async handler: cancelled
            job = await runner.enqueue("long")
            await asyncio.wait_for(started.wait(), WAIT)
            asked = time.monotonic()
            done = await operator.abort(job.id, reason="latency")
            assert done.applied
            async_latency = await asyncio.wait_for(cancelled_at, WAIT) - asked
            # a plain def handler: told
            sync_job = await runner.enqueue("crunch")
            assert await asyncio.to_thread(thread_started.wait, WAIT)
            asked = time.monotonic()
            assert (await operator.abort(sync_job.id, reason="latency")).applied
            assert await asyncio.to_thread(thread_saw.wait, WAIT)
            sync_latency = saw_at[0] - asked
            # a finished job: unchanged
            finished = await runner.enqueue("quick")
            assert await operator.result(finished.id, timeout=WAIT) == 3
            before = await operator.get_job(finished.id)
            assert await operator.abort(finished.id) == AbortResult(before, applied=False)
            assert worker.counters.aborted == 2
        for aborted in (job, sync_job):
            stored = await operator.get_job(aborted.id)
            assert stored.status is JobStatus.CANCELLED
            assert [a.outcome for a in await operator.attempts(aborted.id)] == [Outcome.ABORTED]
        print(f"\n{request.node.callspec.id}: abort heard in {async_latency * 1000:.1f} ms (async), "
              f"{sync_latency * 1000:.1f} ms (def)")  # fmt: skip
        assert async_latency < LATENCY, async_latency
        assert sync_latency < LATENCY, sync_latency
    finally:
        await operator.close()
        await runner.close()
