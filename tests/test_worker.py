"""The worker on the memory store, driven by a fake clock: outcomes, retries, timeouts, leases,
shutdown, outages."""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import rota
from rota import App, EventKind, JobStatus, Outcome, RetryPolicy
from rota.testing import FakeClock

WAIT = 10  # real seconds a test may wait for an event before it fails (never slept)


class Inbox:
    """Events of some kinds, queued from the moment of subscription (so none is missed)."""

    def __init__(self, app: App, *kinds: EventKind) -> None:
        self.queue: asyncio.Queue[rota.Event] = asyncio.Queue()
        app.on(set(kinds), self.queue.put_nowait)

    async def next(self) -> rota.Event:
        return await asyncio.wait_for(self.queue.get(), WAIT)


@dataclass
class Email:
    to: str
    subject: str


async def test_runs_async_and_sync_handlers_and_records_results(app: App) -> None:
    thread_names: list[str] = []

    @app.task
    async def send(email: Email) -> str:
        return f"sent to {email.to}"

    @app.task
    def resize(path: str) -> int:
        thread_names.append(threading.current_thread().name)
        return len(path)

    a = await send.enqueue(Email("a@example.com", "hi"))
    b = await resize.enqueue("/tmp/x.png")
    async with app.worker(concurrency=4):
        await app.wait_until_idle(timeout=WAIT)
    ja, jb = await app.get_job(a.id), await app.get_job(b.id)
    assert (ja.status, jb.status) == (JobStatus.SUCCEEDED, JobStatus.SUCCEEDED)
    assert ja.result == b'"sent to a@example.com"'
    assert jb.result == b"10"
    assert thread_names and thread_names[0].startswith("rota-sync")
    [attempt] = await app.attempts(a.id)
    assert attempt.outcome is Outcome.SUCCEEDED and attempt.number == 1 and attempt.worker == "w1"


async def test_payload_that_does_not_fit_fails_at_enqueue_and_writes_nothing(app: App) -> None:
    @app.task
    async def send(email: Email) -> None: ...

    with pytest.raises(rota.PayloadError, match="Email"):
        await send.enqueue({"to": "a@example.com"})  # type: ignore[arg-type]
    with pytest.raises(rota.PayloadError):
        await app.enqueue_many([send.prepare(Email("a", "b")), send.prepare(42)])  # type: ignore[arg-type]
    assert await app.list_jobs() == []


async def test_delayed_job_runs_only_when_due(app: App, clock: FakeClock) -> None:
    @app.task
    async def tick() -> None: ...

    job = await tick.enqueue(delay=60)
    succeeded = Inbox(app, EventKind.SUCCEEDED)
    async with app.worker():
        await clock.advance(59)
        await app.wait_until_idle(timeout=WAIT)
        assert (await app.get_job(job.id)).status is JobStatus.PENDING
        assert succeeded.queue.empty()
        await clock.advance(1)
        assert (await succeeded.next()).job.id == job.id


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        ("fixed", [2.0, 2.0, 2.0]),
        ("linear", [2.0, 4.0, 6.0]),
        ("exponential", [2.0, 4.0, 8.0]),
        ("backpressure", [2.0, 7.0, 7.0]),  # 2*1, 2*4=8 capped at 7, 2*9 capped
    ],
)
async def test_retry_delays_follow_the_policy_then_the_job_dies(
    app: App, clock: FakeClock, backoff: str, expected: list[float]
) -> None:
    cap = 7.0 if backoff == "backpressure" else 60.0

    @app.task(retry=RetryPolicy(attempts=4, backoff=backoff, base=2.0, cap=cap))  # type: ignore[arg-type]
    async def flaky() -> None:
        raise ConnectionError("upstream down")

    job = await flaky.enqueue()
    retrying, failed = Inbox(app, EventKind.RETRYING), Inbox(app, EventKind.FAILED)
    delays: list[float] = []
    async with app.worker():
        for _ in expected:
            event = await retrying.next()
            delays.append((event.retry_at - clock.now()).total_seconds())
            await clock.advance(delays[-1])
        dead = await failed.next()
    assert delays == expected
    assert dead.job.id == job.id
    stored = await app.get_job(job.id)
    assert stored.status is JobStatus.FAILED and stored.attempts == 4
    attempts = await app.attempts(job.id)
    assert [a.outcome for a in attempts] == [Outcome.FAILED] * 4
    assert attempts[-1].error_type == "ConnectionError"
    assert "upstream down" in (attempts[-1].traceback or "")


def test_full_jitter_stays_within_the_capped_delay() -> None:
    import random

    policy = RetryPolicy(attempts=10, backoff="exponential", base=1.0, cap=30.0, jitter=True)
    rng = random.Random(7)
    for attempt in range(1, 10):
        ceiling = min(30.0, 2.0 ** (attempt - 1))
        draws = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # spread over the whole range, not a fixed value


async def test_timeout_cancels_the_handler_and_counts_as_an_attempt(app: App, clock: FakeClock) -> None:
    cancelled = asyncio.Event()

    @app.task(timeout=5, retry=RetryPolicy(attempts=2, backoff="fixed", base=1))
    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    job = await hang.enqueue()
    started, retrying = Inbox(app, EventKind.STARTED), Inbox(app, EventKind.RETRYING)
    async with app.worker():
        await started.next()
        await clock.advance(4.999)
        assert not cancelled.is_set()
        await clock.advance(0.001)
        event = await retrying.next()
    assert cancelled.is_set()
    assert event.error is not None and event.error.type == "TimeoutError"
    [attempt] = await app.attempts(job.id)
    assert attempt.outcome is Outcome.TIMED_OUT


async def test_handler_signals_retry_after_and_cancel(app: App, clock: FakeClock) -> None:
    @app.task(retry=3)
    async def later() -> None:
        raise rota.Retry(after=timedelta(seconds=42))

    @app.task
    async def give_up() -> None:
        raise rota.Cancel("not needed any more")

    a = await later.enqueue()
    b = await give_up.enqueue()
    retrying = Inbox(app, EventKind.RETRYING)
    async with app.worker():
        event = await retrying.next()
        await app.wait_until_idle(timeout=WAIT)
    assert event.job.id == a.id
    assert (event.retry_at - clock.now()).total_seconds() == 42
    stored = await app.get_job(b.id)
    assert stored.status is JobStatus.CANCELLED and stored.attempts == 1
    assert [x.outcome for x in await app.attempts(b.id)] == [Outcome.CANCELLED]


async def test_cancelling_a_running_job_stops_its_run_at_the_next_heartbeat(
    app: App, clock: FakeClock
) -> None:
    stopped = asyncio.Event()
    running = asyncio.Event()

    @app.task
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
        await app.cancel(job.id)
        await clock.advance(10)  # one heartbeat interval (lease / 3)
        await asyncio.wait_for(stopped.wait(), WAIT)
        assert worker.counters.lost == 1
    stored = await app.get_job(job.id)
    assert stored.status is JobStatus.CANCELLED
    assert [a.outcome for a in await app.attempts(job.id)] == [Outcome.CANCELLED]


async def test_heartbeats_keep_a_long_job_leased(app: App, clock: FakeClock) -> None:
    release = asyncio.Event()
    running = asyncio.Event()

    @app.task
    async def long() -> None:
        running.set()
        await release.wait()

    job = await long.enqueue()
    async with app.worker(lease=30):
        await asyncio.wait_for(running.wait(), WAIT)
        await clock.advance(300)  # ten leases long
        other = await app.store.claim(
            queues=["default"], worker="w2", limit=10, lease_for=timedelta(seconds=30), now=clock.now()
        )
        assert other == []
        release.set()
        await app.wait_until_idle(timeout=WAIT)
    assert (await app.get_job(job.id)).status is JobStatus.SUCCEEDED


async def test_demand_driven_claims_never_exceed_free_slots(app: App) -> None:
    gate = asyncio.Event()
    started = 0
    two_running = asyncio.Event()

    @app.task
    async def block(n: int) -> None:
        nonlocal started
        started += 1
        if started == 2:
            two_running.set()
        await gate.wait()

    await app.enqueue_many([block.prepare(i) for i in range(10)])
    async with app.worker(concurrency=2):
        await asyncio.wait_for(two_running.wait(), WAIT)
        stats = await app.stats()
        assert stats.counts["default"][JobStatus.RUNNING] == 2
        assert stats.counts["default"][JobStatus.PENDING] == 8
        gate.set()
        await app.wait_until_idle(timeout=WAIT)
    assert (await app.stats()).counts["default"][JobStatus.SUCCEEDED] == 10


async def test_shutdown_waits_for_grace_then_releases_without_spending_an_attempt(
    app: App, clock: FakeClock
) -> None:
    running = asyncio.Event()

    @app.task
    async def slow() -> None:
        running.set()
        await asyncio.Event().wait()

    job = await slow.enqueue()
    worker = app.worker(grace=5)
    await worker.start()
    await asyncio.wait_for(running.wait(), WAIT)
    worker.stop()
    await clock.wait_for_deadline(clock.now() + timedelta(seconds=5))  # the grace period
    await clock.advance(4.9)
    assert worker.active == 1
    await clock.advance(0.1)
    await asyncio.wait_for(worker.shutdown(), WAIT)
    stored = await app.get_job(job.id)
    assert stored.status is JobStatus.PENDING and stored.attempts == 0 and stored.lease_owner is None
    [attempt] = await app.attempts(job.id)  # the history says it was given back, not run
    assert (attempt.outcome, attempt.worker, attempt.number) == (Outcome.RELEASED, "w1", 1)
    assert worker.counters.released == 1


async def test_store_outage_is_retried_with_backoff(app: App, clock: FakeClock) -> None:
    store = app.store
    real_claim = store.claim
    failures = 3
    attempts_at: list[float] = []

    async def flaky_claim(**kwargs):  # type: ignore[no-untyped-def]
        nonlocal failures
        attempts_at.append(clock.monotonic())
        if failures:
            failures -= 1
            raise rota.StoreUnavailable("connection reset")
        return await real_claim(**kwargs)

    store.claim = flaky_claim  # type: ignore[method-assign]

    @app.task
    async def work() -> None: ...

    job = await work.enqueue()
    async with app.worker():
        for _ in range(3):
            await clock.wait_for_sleepers(2)  # heartbeat + backoff
            await clock.advance(clock.next_deadline() - clock.now())  # type: ignore[operator]
        await app.wait_until_idle(timeout=WAIT)
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(attempts_at[:4])]
    assert gaps == [0.1, 0.2, 0.4]
    assert (await app.get_job(job.id)).status is JobStatus.SUCCEEDED


async def test_unknown_task_fails_the_attempt_with_a_clear_error(app: App) -> None:
    @app.task(name="known")
    async def known() -> None: ...

    job = (await app.enqueue_many([known.prepare()]))[0]
    del app.tasks["known"]
    app.tasks["other"] = known  # the worker serves the queue but no longer knows the task
    async with app.worker():
        await app.wait_until_idle(timeout=WAIT)
    [attempt] = await app.attempts(job.id)
    assert attempt.error_type == "TaskNotFound" and "known" in (attempt.error_message or "")


async def test_enqueue_with_key_returns_the_existing_job(app: App) -> None:
    @app.task
    async def welcome(user: int) -> None: ...

    first = await welcome.enqueue(42, key="welcome:42")
    again = await welcome.enqueue(43, key="welcome:42")
    assert again.id == first.id and again.payload == b"42"
    assert len(await app.list_jobs()) == 1


async def test_a_handler_raising_cancelled_error_fails_its_attempt_and_frees_its_slot(app: App) -> None:
    @app.task(retry=2)
    async def odd() -> None:
        raise asyncio.CancelledError("a library gave up")

    @app.task
    async def after() -> None: ...

    job = await odd.enqueue()
    async with app.worker(concurrency=1) as worker:
        await app.wait_until_idle(timeout=WAIT)
        later = await after.enqueue()
        await app.wait_until_idle(timeout=WAIT)
        assert worker.active == 0
    stored = await app.get_job(job.id)
    assert stored.status is JobStatus.PENDING and stored.attempts == 1  # retried later, not stuck
    [attempt] = await app.attempts(job.id)
    assert attempt.outcome is Outcome.FAILED and attempt.error_type == "CancelledError"
    assert (await app.get_job(later.id)).status is JobStatus.SUCCEEDED


# -- default concurrency (issue 16) ------------------------------------------------------


async def test_default_concurrency_is_sized_to_the_tasks_served(app: App) -> None:
    """Unset, concurrency is 250 when every task the worker serves is async (a waiting job
    costs no thread) and 10 when any is a plain def; the claim takes the free slots."""

    @app.task(queue="io")
    async def fetch() -> None: ...

    @app.task(queue="cpu")
    def crunch() -> None: ...

    assert app.worker(queues=["io"]).concurrency == 250
    assert app.worker(queues=["cpu"]).concurrency == 10
    assert app.worker().concurrency == 10  # both queues: one def task is enough
    assert app.worker(queues=["io"], concurrency=7).concurrency == 7
    assert app.worker(queues=["io"]).info().concurrency == 250


async def test_an_unset_claim_batch_claims_every_free_slot(app: App, clock: FakeClock) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    seen: list[int] = []

    @app.task()
    async def hold() -> None:
        seen.append(1)
        if len(seen) == 150:
            started.set()
        await release.wait()

    await app.enqueue_many([hold.prepare() for _ in range(300)])
    claims: list[int] = []
    store = app.store
    original = store.claim

    async def counting(**kwargs: object) -> list[rota.Job]:
        jobs = await original(**kwargs)  # type: ignore[arg-type]
        claims.append(len(jobs))
        return jobs

    store.claim = counting  # type: ignore[method-assign]
    async with app.worker(concurrency=150):
        await asyncio.wait_for(started.wait(), WAIT)
        release.set()
    assert claims[0] == 150  # one claim fills every slot (the old default batch took 100)


async def test_a_second_worker_gets_work_in_its_first_claim_round(tmp_path: Path, clock: FakeClock) -> None:
    """Fairness at the default of a claim per free slot: a worker never takes more jobs than it
    can start, so with 300 held jobs pending, the first worker's claim takes its 250 and the
    second worker's first claim gets the other 50 while the first's are still running. Two
    apps on one SQLite file, as two processes would be."""
    path = tmp_path / "shared.db"
    apps = [App(f"sqlite:///{path}", clock=clock, instance_id=f"w{i}") for i in (1, 2)]
    release = asyncio.Event()
    running = {"w1": 0, "w2": 0}
    filled = {name: asyncio.Event() for name in running}
    first_claims: dict[str, int] = {}

    def serve(app: App, name: str) -> None:
        @app.task(name="hold")
        async def hold() -> None:
            running[name] += 1
            if running[name] == {"w1": 250, "w2": 50}[name]:
                filled[name].set()
            await release.wait()

        original = app.store.claim

        async def first_claim(**kwargs: Any) -> list[rota.Job]:
            jobs = await original(**kwargs)
            first_claims.setdefault(name, len(jobs))
            return jobs

        app.store.claim = first_claim  # type: ignore[method-assign]

    try:
        for app in apps:
            serve(app, app.config.instance_id)
        one, two = apps
        await one.enqueue_many([one.get_task("hold").prepare() for _ in range(300)])
        async with one.worker() as first:
            assert first.concurrency == 250  # the default for async tasks
            await asyncio.wait_for(filled["w1"].wait(), WAIT)
            async with two.worker():
                await asyncio.wait_for(filled["w2"].wait(), WAIT)
                assert first_claims == {"w1": 250, "w2": 50}
                assert running == {"w1": 250, "w2": 50}
                release.set()
            await one.wait_until_idle(timeout=WAIT)
        assert (await one.stats()).counts["default"][JobStatus.SUCCEEDED] == 300
    finally:
        release.set()
        for app in apps:
            await app.close()


async def test_a_job_that_fell_due_during_an_empty_claim_is_claimed_at_once(
    app: App, clock: FakeClock
) -> None:
    """After empty claims the worker waits for a wake-up (not the next due time) when the
    store names a job due before the last claim ran: that job is held back. One that fell
    due only while the claim ran must be claimed at once. It was not: a delayed job then
    started a polling interval late (1 s on SQLite, seen in the benchmark's lateness)."""
    ran = asyncio.Event()

    @app.task()
    async def later() -> None:
        ran.set()

    store = app.store
    original = store.claim

    async def slow_claim(**kwargs: object) -> list[rota.Job]:
        jobs = await original(**kwargs)  # type: ignore[arg-type]
        await clock.advance(0.01)  # the claim took 10 ms: what it saw is 10 ms old
        return jobs

    store.claim = slow_claim  # type: ignore[method-assign]
    async with app.worker(poll_interval=3600):
        await later.enqueue(delay=0.005)  # falls due while the claim it wakes runs
        await asyncio.wait_for(ran.wait(), WAIT)
