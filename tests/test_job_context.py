"""The job context (``rota.JobContext``, ``rota.current_job()``), progress reports, the
events that end an attempt, and the registry of live workers, on the memory store with a
fake clock."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

import rota
from rota import App, EventKind, JobContext, JobStatus, Outcome
from rota._models import LeaseRef, Progress
from rota.testing import FakeClock

WAIT = 10  # real seconds a test may wait for an event before it fails (never slept)


class Inbox:
    """Events of some kinds, queued from the moment of subscription (so none is missed)."""

    def __init__(self, app: App, *kinds: EventKind) -> None:
        self.queue: asyncio.Queue[rota.Event] = asyncio.Queue()
        app.on(set(kinds), self.queue.put_nowait)

    async def next(self) -> rota.Event:
        return await asyncio.wait_for(self.queue.get(), WAIT)


class Registrations:
    """The registrations the worker writes, signalled as they land."""

    def __init__(self, app: App) -> None:
        self.landed = asyncio.Queue[rota.WorkerInfo]()
        store = app.store
        real: Callable[..., Awaitable[rota.WorkerInfo]] = store.register_worker

        async def spy(info: rota.WorkerInfo, *, ttl: timedelta, now: Any) -> rota.WorkerInfo:
            stored = await real(info, ttl=ttl, now=now)
            self.landed.put_nowait(stored)
            return stored

        store.register_worker = spy  # type: ignore[method-assign]

    async def next(self) -> rota.WorkerInfo:
        return await asyncio.wait_for(self.landed.get(), WAIT)


class ProgressSpy:
    """Counts the store's progress writes and signals each one."""

    def __init__(self, app: App) -> None:
        self.writes: list[Progress] = []
        self.written = asyncio.Queue[Progress]()
        store = app.store
        real: Callable[..., Awaitable[bool]] = store.set_progress

        async def spy(lease: LeaseRef, progress: Progress, *, now: Any) -> bool:
            done = await real(lease, progress, now=now)
            self.writes.append(progress)
            self.written.put_nowait(progress)
            return done

        store.set_progress = spy  # type: ignore[method-assign]

    async def next(self) -> Progress:
        return await asyncio.wait_for(self.written.get(), WAIT)


# -- the context's fields ----------------------------------------------------------------------


async def test_a_handler_gets_its_jobs_fields_and_the_attempt_grows_across_retries(app: App) -> None:
    seen: list[tuple[str, str, str, int, int, int, str]] = []

    @app.task(retry=rota.RetryPolicy(attempts=3, backoff="fixed", base=0.0), queue="mail")
    async def send(to: str, ctx: JobContext) -> str:
        seen.append(
            (ctx.job_id, ctx.task, ctx.queue, ctx.attempt, ctx.max_attempts, ctx.token, ctx.worker_id)
        )
        if ctx.attempt < 3:
            raise ConnectionError("try again")
        return to

    job = await send.enqueue("a@example.com")
    async with app.worker(queues=["mail"]):
        await app.wait_until_idle(timeout=WAIT)
    assert (await app.get_job(job.id)).status is JobStatus.SUCCEEDED
    name = send.name
    assert seen == [
        (job.id, name, "mail", 1, 3, 1, "w1"),
        (job.id, name, "mail", 2, 3, 2, "w1"),
        (job.id, name, "mail", 3, 3, 3, "w1"),
    ]


async def test_the_deadline_is_the_start_plus_the_timeout(app: App, clock: FakeClock) -> None:
    deadlines: dict[str, object] = {}

    @app.task(timeout=90)
    async def slow(ctx: JobContext) -> None:
        deadlines["slow"] = ctx.deadline

    @app.task
    async def unbounded(ctx: JobContext) -> None:
        deadlines["unbounded"] = ctx.deadline

    await clock.advance(3)
    started = clock.now()
    await slow.enqueue()
    await unbounded.enqueue()
    async with app.worker():
        await app.wait_until_idle(timeout=WAIT)
    assert deadlines == {"slow": started + timedelta(seconds=90), "unbounded": None}


async def test_the_deadline_is_when_the_timeout_cancels_the_run(app: App, clock: FakeClock) -> None:
    inside: asyncio.Queue[JobContext] = asyncio.Queue()

    @app.task(timeout=30, retry=1)
    async def hang(ctx: JobContext) -> None:
        inside.put_nowait(ctx)
        await asyncio.Event().wait()

    job = await hang.enqueue()
    failed = Inbox(app, EventKind.FAILED)
    async with app.worker():
        ctx = await asyncio.wait_for(inside.get(), WAIT)
        assert ctx.deadline is not None
        await clock.advance(ctx.deadline - clock.now() - timedelta(milliseconds=1))
        assert (await app.get_job(job.id)).status is JobStatus.RUNNING
        await clock.advance(timedelta(milliseconds=1))
        event = await failed.next()
    assert event.outcome is Outcome.TIMED_OUT


async def test_a_scheduled_jobs_context_names_its_schedule_and_fire(app: App, clock: FakeClock) -> None:
    fires: asyncio.Queue[tuple[str | None, object]] = asyncio.Queue()

    @app.every(seconds=60, id="minutely")
    async def tick(ctx: JobContext) -> None:
        fires.put_nowait((ctx.schedule_id, ctx.fire_time))

    start = clock.now()
    async with app.worker():
        await clock.wait_for_deadline(start + timedelta(seconds=60))  # the scheduler waits for it
        await clock.advance(60)
        schedule_id, fire_time = await asyncio.wait_for(fires.get(), WAIT)
    assert schedule_id == "minutely"
    assert fire_time == start + timedelta(seconds=60)


# -- current_job() -------------------------------------------------------------------------------


async def test_current_job_is_the_runs_context_in_async_and_def_handlers(app: App) -> None:
    found: dict[str, Any] = {}

    def helper() -> JobContext | None:
        return rota.current_job()  # called from deep inside the handler

    @app.task
    async def with_ctx(n: int, ctx: JobContext) -> None:
        found["with_ctx"] = (helper() is ctx, ctx.job_id)

    @app.task
    async def without_ctx(n: int) -> int:
        ctx = helper()
        found["without_ctx"] = None if ctx is None else (ctx.job_id, ctx.attempt)
        return n * 2

    @app.task
    def in_a_thread(n: int) -> None:
        ctx = helper()
        found["in_a_thread"] = (threading.current_thread().name, None if ctx is None else ctx.job_id)

    @app.task
    def in_a_thread_with_ctx(ctx: JobContext) -> None:
        found["in_a_thread_with_ctx"] = helper() is ctx

    a = await with_ctx.enqueue(1)
    b = await without_ctx.enqueue(2)
    c = await in_a_thread.enqueue(3)
    await in_a_thread_with_ctx.enqueue()
    assert rota.current_job() is None  # outside any run
    async with app.worker(concurrency=4):
        await app.wait_until_idle(timeout=WAIT)
    assert found["with_ctx"] == (True, a.id)
    assert found["without_ctx"] == (b.id, 1)
    thread, job_id = found["in_a_thread"]
    assert thread.startswith("rota-sync")
    assert job_id == c.id
    assert found["in_a_thread_with_ctx"] is True
    assert (await app.get_job(b.id)).result == b"4"  # a handler without ctx works as ever
    assert rota.current_job() is None


async def test_handlers_take_the_context_by_annotation_after_the_payload(app: App) -> None:
    @app.task
    async def keyword_only(n: int, *, context: JobContext) -> int:
        return context.attempt + n

    @app.task
    def positional_only(n: int, ctx: JobContext, /) -> int:
        return ctx.attempt + n

    @app.task
    async def with_default(n: int, extra: int = 10, ctx: JobContext | None = None) -> int:
        return n + extra  # not annotated JobContext exactly: an ordinary optional parameter

    assert (keyword_only.wants_context, positional_only.wants_context) == (True, True)
    assert not with_default.wants_context
    assert keyword_only.payload_type is int and positional_only.payload_type is int
    jobs = [await keyword_only.enqueue(1), await positional_only.enqueue(2), await with_default.enqueue(3)]
    async with app.worker():
        await app.wait_until_idle(timeout=WAIT)
    assert [(await app.get_job(j.id)).result for j in jobs] == [b"2", b"3", b"13"]


def test_a_context_before_the_payload_or_twice_is_refused(app: App) -> None:
    async def first(ctx: JobContext, n: int) -> None: ...

    async def twice(n: int, a: JobContext, b: JobContext) -> None: ...

    def late(n: int, extra: int = 1, ctx: JobContext | None = None, /) -> None: ...

    async def two_payloads(a: int, b: int, ctx: JobContext) -> None: ...

    with pytest.raises(rota.ConfigError, match="payload must be the first"):
        app.task(first)
    with pytest.raises(rota.ConfigError, match="one is enough"):
        app.task(twice)
    with pytest.raises(rota.ConfigError, match="one payload"):
        app.task(two_payloads)

    def late_ctx(n: int, extra: int = 1, ctx: JobContext = None, /) -> None:  # type: ignore[assignment]
        ...

    with pytest.raises(rota.ConfigError, match="positional-only"):
        app.task(late_ctx)
    assert not app.task(late).wants_context  # JobContext | None is not the annotation: no context


async def test_ctx_log_records_carry_the_jobs_fields(app: App, caplog: pytest.LogCaptureFixture) -> None:
    @app.task
    async def work(n: int, ctx: JobContext) -> None:
        ctx.log.info("working on %d", n, extra={"step": "one"})

    job = await work.enqueue(7)
    with caplog.at_level(logging.INFO, logger="rota.job"):
        async with app.worker():
            await app.wait_until_idle(timeout=WAIT)
    (record,) = [r for r in caplog.records if r.name == "rota.job"]
    assert record.getMessage() == "working on 7"
    fields = {
        k: getattr(record, k)
        for k in ("job_id", "task", "queue", "attempt", "max_attempts", "worker", "step")
    }
    assert fields == {
        "job_id": job.id, "task": work.name, "queue": "default", "attempt": 1, "max_attempts": 3,
        "worker": "w1", "step": "one",
    }  # fmt: skip


# -- progress ------------------------------------------------------------------------------------


async def test_progress_is_stored_at_once_then_at_most_once_a_second(app: App, clock: FakeClock) -> None:
    step = asyncio.Queue[str]()
    go = asyncio.Event()

    @app.task
    async def crunch(ctx: JobContext) -> None:
        await ctx.progress(0.1, "started")  # the first report is written at once
        step.put_nowait("first")
        await ctx.progress(0.2)
        await ctx.progress(0.3, "a third")  # within the second: waits, replacing 0.2
        step.put_nowait("throttled")
        await go.wait()
        await ctx.progress(0.9, "almost")  # within the next second: goes with the outcome

    spy = ProgressSpy(app)
    job = await crunch.enqueue()
    async with app.worker():
        assert await asyncio.wait_for(step.get(), WAIT) == "first"
        stored = await app.get_job(job.id)
        assert (stored.progress, stored.progress_message, stored.progress_at) == (0.1, "started", clock.now())
        assert await asyncio.wait_for(step.get(), WAIT) == "throttled"
        assert [p.fraction for p in spy.writes] == [0.1]
        await clock.advance(0.999)
        assert [p.fraction for p in spy.writes] == [0.1]
        await clock.advance(0.001)  # a second after the first write: the waiting one is written
        assert await spy.next() == Progress(0.1, "started")
        assert await spy.next() == Progress(0.3, "a third")
        assert (await app.get_job(job.id)).progress_message == "a third"
        go.set()
        await app.wait_until_idle(timeout=WAIT)
    assert [p.fraction for p in spy.writes] == [0.1, 0.3]  # 0.9 went with the outcome
    done = await app.get_job(job.id)
    assert (done.status, done.progress, done.progress_message) == (JobStatus.SUCCEEDED, 0.9, "almost")


async def test_a_def_handler_reports_progress_without_await(app: App) -> None:
    @app.task
    def convert(n: int, ctx: JobContext) -> None:
        ctx.progress(0.5, "half")
        rota.current_job().progress(1.0, "done")  # type: ignore[union-attr]

    job = await convert.enqueue(1)
    async with app.worker():
        await app.wait_until_idle(timeout=WAIT)
    done = await app.get_job(job.id)
    assert (done.progress, done.progress_message) == (1.0, "done")


async def test_a_store_outage_never_fails_a_report_and_the_last_value_lands(app: App) -> None:
    store = app.store
    real = store.set_progress
    failures = 0

    async def down(lease: LeaseRef, progress: Progress, *, now: Any) -> bool:
        nonlocal failures
        failures += 1
        raise rota.StoreUnavailable("server away")

    store.set_progress = down  # type: ignore[method-assign]

    @app.task
    async def report(ctx: JobContext) -> None:
        await ctx.progress(0.7, "while the store is away")

    job = await report.enqueue()
    async with app.worker():
        await app.wait_until_idle(timeout=WAIT)
    store.set_progress = real  # type: ignore[method-assign]
    done = await app.get_job(job.id)
    assert failures == 1
    assert (done.status, done.progress, done.progress_message) == (
        JobStatus.SUCCEEDED,
        0.7,
        "while the store is away",
    )


async def test_a_bad_progress_value_is_the_handlers_error(app: App) -> None:
    @app.task(retry=1)
    async def bad(ctx: JobContext) -> None:
        await ctx.progress(float("nan"))

    job = await bad.enqueue()
    async with app.worker():
        await app.wait_until_idle(timeout=WAIT)
    (attempt,) = await app.attempts(job.id)
    assert (attempt.outcome, attempt.error_type) == (Outcome.FAILED, "ConfigError")


async def test_the_next_attempt_starts_without_the_last_ones_progress(app: App, clock: FakeClock) -> None:
    seen: list[float | None] = []

    @app.task(retry=rota.RetryPolicy(attempts=2, backoff="fixed", base=5.0))
    async def flaky(ctx: JobContext) -> None:
        seen.append((await app.get_job(ctx.job_id)).progress)
        await ctx.progress(0.4, "got this far")
        if ctx.attempt == 1:
            raise RuntimeError("boom")

    job = await flaky.enqueue()
    async with app.worker():
        await app.wait_until_idle(timeout=WAIT)
        waiting = await app.get_job(job.id)
        assert (waiting.status, waiting.progress) == (JobStatus.PENDING, 0.4)
        await clock.advance(5)
        await app.wait_until_idle(timeout=WAIT)
    assert seen == [None, None]


# -- events carry the attempt's duration and outcome ---------------------------------------------


async def test_events_carry_the_attempts_duration_and_outcome(app: App, clock: FakeClock) -> None:
    entered = asyncio.Queue[int]()

    @app.task(retry=rota.RetryPolicy(attempts=2, backoff="fixed", base=1.0))
    async def slow(ctx: JobContext) -> None:
        entered.put_nowait(ctx.attempt)
        await clock.sleep(5)
        if ctx.attempt == 1:
            raise ValueError("first try")

    async def run_for_five_seconds() -> None:
        await asyncio.wait_for(entered.get(), WAIT)
        await clock.wait_for_deadline(clock.now() + timedelta(seconds=5))
        await clock.advance(5)

    @app.task
    async def cancels() -> None:
        raise rota.Cancel("not needed")

    ends = Inbox(app, EventKind.SUCCEEDED, EventKind.RETRYING, EventKind.CANCELLED)
    await slow.enqueue()
    async with app.worker():
        await run_for_five_seconds()
        retrying = await ends.next()
        await clock.advance(1)
        await run_for_five_seconds()
        succeeded = await ends.next()
        await cancels.enqueue()
        cancelled = await ends.next()
    assert (retrying.kind, retrying.outcome, retrying.duration) == (EventKind.RETRYING, Outcome.FAILED, 5.0)
    assert (succeeded.kind, succeeded.outcome, succeeded.duration) == (
        EventKind.SUCCEEDED,
        Outcome.SUCCEEDED,
        5.0,
    )
    assert (cancelled.outcome, cancelled.duration) == (Outcome.CANCELLED, 0.0)


async def test_a_job_given_back_at_shutdown_is_released_with_its_duration(app: App, clock: FakeClock) -> None:
    started = asyncio.Event()

    @app.task
    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    released = Inbox(app, EventKind.RELEASED)
    await forever.enqueue()
    worker = app.worker(grace=0)
    await worker.start()
    await asyncio.wait_for(started.wait(), WAIT)
    await clock.advance(2)
    await worker.stop()
    event = await released.next()
    assert (event.outcome, event.duration) == (Outcome.RELEASED, 2.0)


# -- the registry of live workers -----------------------------------------------------------------


async def test_a_running_worker_is_listed_refreshed_and_removed_when_it_stops(
    app: App, clock: FakeClock
) -> None:
    import os
    import socket

    go = asyncio.Event()
    running = asyncio.Event()

    @app.task(queue="q1")
    async def busy() -> None:
        running.set()
        await go.wait()

    assert await app.workers() == []
    registrations = Registrations(app)
    started = clock.now()
    async with app.worker(concurrency=3, lease=30, queues=["q1", "q2"]):
        await registrations.next()
        (listed,) = await app.workers()
        assert listed == rota.WorkerInfo(
            id="w1", host=socket.gethostname(), pid=os.getpid(), queues=("q1", "q2"), concurrency=3,
            running=0, version=rota.__version__, started_at=started, last_heartbeat=started,
            expires_at=started + timedelta(seconds=30),
        )  # fmt: skip
        await busy.enqueue()
        await asyncio.wait_for(running.wait(), WAIT)
        await clock.advance(10)  # one heartbeat interval (lease / 3)
        assert (await registrations.next()).running == 1
        (listed,) = await app.workers()
        assert (listed.running, listed.last_heartbeat) == (1, clock.now())
        assert listed.expires_at == clock.now() + timedelta(seconds=30)
        go.set()
        await app.wait_until_idle(timeout=WAIT)
    assert await app.workers() == []


async def test_a_worker_that_stops_refreshing_expires(app: App, clock: FakeClock) -> None:
    registrations = Registrations(app)
    async with app.worker(lease=30):
        await registrations.next()
        assert [w.id for w in await app.workers()] == ["w1"]
        # the store stops taking registrations (a worker cut off from it)
        app.store.register_worker = _unavailable  # type: ignore[method-assign]
        app.store.unregister_worker = _unavailable  # type: ignore[method-assign]
        await clock.advance(29.9)
        assert [w.id for w in await app.workers()] == ["w1"]
        await clock.advance(0.1)
        assert await app.workers() == []


async def _unavailable(*args: object, **kwargs: object) -> Any:
    raise rota.StoreUnavailable("cut off")


def test_the_sync_facade_lists_the_live_workers(tmp_path: Any) -> None:
    from rota.sync import SyncApp

    app = App(f"sqlite:///{tmp_path / 'sync.db'}", instance_id="sync-1")
    with SyncApp(app) as jobs:
        assert jobs.workers() == []
        info = rota.WorkerInfo("w9", "box", 1, ("default",), 2, 0, rota.__version__, app.clock.now())
        jobs.call(app.store.register_worker, info, ttl=timedelta(seconds=30), now=app.clock.now())
        assert [w.id for w in jobs.workers()] == ["w9"]


async def test_a_finished_run_leaves_no_reference_cycle(app: App) -> None:
    """A run's context (current_job, the JobContext, a failure's exception) must not keep the
    run alive in a cycle: on a busy worker the garbage collector would then cost every job."""
    import gc

    from rota.runtime._runs import Run

    @app.task(retry=1)
    async def plain(n: int) -> None:
        assert rota.current_job() is not None

    @app.task(retry=1)
    async def with_ctx(n: int, ctx: JobContext) -> None:
        if n % 2:
            raise ValueError(n)

    gc.collect()
    gc.disable()
    try:
        for n in range(10):
            await plain.enqueue(n)
            await with_ctx.enqueue(n)
        async with app.worker():
            await app.wait_until_idle(timeout=WAIT)
        assert [o for o in gc.get_objects() if isinstance(o, Run)] == []
    finally:
        gc.enable()
