"""The worker: claims jobs as slots free up, runs them, heartbeats their leases, records outcomes.

One coroutine claims (only as many jobs as there are free slots), one heartbeats every lease at
a third of its length, one writes outcomes in batches. Each job runs in its own task; ``async``
handlers on the loop, plain ``def`` handlers in a bounded thread pool. A slot stays busy until
its outcome is durable, so a crash never loses more than the jobs it was running, and those
come back when their leases expire.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from rota._clock import SystemClock
from rota._errors import Cancel, PayloadError, Retry, TaskNotFound
from rota._events import Event, EventKind
from rota._models import ErrorInfo, Finish, Job, LeaseRef, Outcome
from rota.runtime.locks import LockBusy, acquire_task_lock
from rota.runtime.outcomes import encode_result, error_info, failure
from rota.runtime.resilience import until_stopped
from rota.runtime.services import LeaderServices
from rota.runtime.waiting import first_of
from rota.runtime.worker_settings import WorkerSettings

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from rota._app import App
    from rota._task import Task

log = logging.getLogger("rota.worker")
T = TypeVar("T")


@dataclass(eq=False)
class _Run:
    """One claimed job on this worker, from claim until its outcome is written."""

    job: Job
    task: asyncio.Task[None] | None = None
    reason: str | None = None  # why we cancelled it: timeout, lease_lost, shutdown
    finishing: bool = False  # the handler is done; the outcome waits to be written
    watchdog: Any = None
    lock: Any = None  # the TaskLock held for a task with ``lock=``; fences the outcome

    @property
    def ref(self) -> LeaseRef:
        return LeaseRef(self.job.id, self.job.token)


@dataclass
class WorkerCounters:
    claimed: int = 0
    succeeded: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    lost: int = 0
    released: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class Worker:
    """Runs an app's jobs until ``stop()`` (or SIGTERM/SIGINT under ``rota worker``)."""

    def __init__(self, app: App, settings: WorkerSettings | None = None) -> None:
        self.app = app
        self.settings = settings or WorkerSettings()
        self.clock = app.clock
        self.id = self.settings.name or app.instance_id
        self.queues: tuple[str, ...] = tuple(self.settings.queues or app.queues)
        self.lease = timedelta(seconds=float(self.settings.lease))  # type: ignore[arg-type]
        self.counters = WorkerCounters()
        self.rng = random.Random()
        self._running: dict[str, _Run] = {}
        self._outbox: list[tuple[_Run, Finish]] = []
        self._outbox_ready = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._rescan = asyncio.Event()  # set when our own writes moved a due time
        self._stop = asyncio.Event()
        self._stopping = False
        self._pool: ThreadPoolExecutor | None = None
        self._main: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        retention = self.settings.retention
        self.services = LeaderServices(
            app, settings=self.settings.leader, scheduler=self.settings.scheduler,
            retention=retention if isinstance(retention, timedelta) else None,
            prune_schedules=self.settings.prune_schedules, schedule_lease=self.settings.schedule_lease,
            worker=True,
        )  # fmt: skip

    # -- control -----------------------------------------------------------------------------

    @property
    def active(self) -> int:
        return len(self._running)

    def stop(self) -> None:
        """Stop claiming and shut down gracefully (safe from signal handlers)."""
        self._stopping = True
        self._stop.set()

    async def start(self) -> None:
        """Run in the background until ``shutdown()``."""
        if self._main is None:
            self._main = asyncio.create_task(self.run(), name=f"rota-worker-{self.id}")
            await self._started.wait()

    async def shutdown(self) -> None:
        """Stop and wait for the graceful shutdown to complete."""
        self.stop()
        if self._main is not None:
            await self._main

    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def run(self) -> None:
        """Work until stopped, then wait ``grace`` for running jobs, release the rest."""
        await self.app.open()
        threads = self.settings.sync_threads or self.settings.concurrency
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rota-sync")
        helpers = [
            asyncio.create_task(self._heartbeat_loop(), name="rota-heartbeat"),
            asyncio.create_task(self._flush_loop(), name="rota-finisher"),
        ]
        await self.services.start()
        log.info(
            "worker %s serving queues %s on %s", self.id, ",".join(self.queues), self.app.store.describe()
        )
        self._started.set()
        try:
            await self._claim_loop()
        finally:
            self._stopping = True
            await self.services.stop()
            await self._drain()
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self._flush()
            self._pool.shutdown(wait=False, cancel_futures=True)
            log.info("worker %s stopped", self.id)

    # -- claiming ----------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        store = self.app.store
        batch = self.settings.claim_batch
        idle_streak = 0
        while not self._stopping:
            if not self.services.may_execute:
                await self._first(self.services.wait_changed())
                continue
            free = self.settings.concurrency - len(self._running)
            if free <= 0:
                self._slot_free.clear()
                await self._first(self._slot_free.wait())
                continue
            want = min(free, batch)
            jobs = await self._store(
                lambda: store.claim(
                    queues=self.queues, worker=self.id, limit=want, lease_for=self.lease, now=self.clock.now()
                ),
                "claim",
            )
            if jobs is None:
                break
            for job in jobs:
                self._launch(job)
            if len(jobs) < want and not self._stopping:
                idle_streak = idle_streak + 1 if not jobs else 0
                await self._idle_wait(hot=idle_streak > 1)

    async def _idle_wait(self, *, hot: bool) -> None:
        """Sleep until new work may exist: a wake-up from the store, the next due time, a free
        slot, or the polling interval (for stores that cannot hear other processes)."""
        store = self.app.store
        due = await self._store(lambda: store.next_due(queues=self.queues), "next_due")
        poll = self.settings.poll_interval if self.settings.poll_interval is not None else store.poll_interval
        self._rescan.clear()
        waits: list[Awaitable[Any]] = [store.wait_for_jobs(poll), self._rescan.wait()]
        if due is not None:
            delay = (due - self.clock.now()).total_seconds()
            if delay > 0 or not hot:
                waits.append(self.clock.sleep(max(0.0, delay)))
        await self._first(*waits)

    async def _first(self, *awaitables: Awaitable[Any]) -> None:
        """Wait for the first of ``awaitables`` or for stop()."""
        await first_of(*awaitables, self._stop.wait())

    async def _store(self, call: Callable[[], Awaitable[T]], what: str) -> T | None:
        """A store call retried through outages; None when stopping interrupted the retries."""
        return await until_stopped(call, clock=self.clock, what=what, stopping=lambda: self._stopping)

    # -- running -----------------------------------------------------------------------------

    def _launch(self, job: Job) -> None:
        run = _Run(job)
        self._running[job.id] = run
        self.counters.claimed += 1
        run.task = asyncio.create_task(self._execute(run))
        if job.timeout:
            if isinstance(self.clock, SystemClock):
                run.watchdog = asyncio.get_running_loop().call_later(
                    job.timeout, self._cancel, run, "timeout"
                )
            else:
                run.watchdog = asyncio.create_task(self._fake_watchdog(run, job.timeout))

    async def _fake_watchdog(self, run: _Run, seconds: float) -> None:
        await self.clock.sleep(seconds)
        self._cancel(run, "timeout")

    def _cancel(self, run: _Run, reason: str) -> None:
        if run.finishing or run.reason is not None or run.task is None:
            return
        run.reason = reason
        run.task.cancel()

    async def _execute(self, run: _Run) -> None:
        job = run.job
        task = self.app.tasks.get(job.task)
        events = self.app.events
        try:
            if task is None:
                raise TaskNotFound(f"task {job.task!r} is not registered on worker {self.id}")
            payload = task.decode(job.payload)
            if task.lock is not None:
                try:
                    run.lock = await acquire_task_lock(
                        self.app.store, self.clock, task, payload, owner=f"{self.id}/{job.id}",
                        ttl=self.lease, wait=self.lease.total_seconds() / 3,
                        on_lost=lambda: self._cancel(run, "lock_lost"),
                    )  # fmt: skip
                except LockBusy:
                    self._drop(run, "lock_busy")  # given back: the attempt is not spent
                    return
            if events.active:
                events.emit(Event(EventKind.STARTED, job))
            if task.is_async:
                result = await task.invoke(payload)
            else:
                assert self._pool is not None
                ctx = contextvars.copy_context()
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._pool, ctx.run, task.call_sync, payload)
        except asyncio.CancelledError as exc:
            reason = run.reason
            current = asyncio.current_task()
            if reason is None:
                if current is not None and current.cancelling():
                    raise  # cancelled from outside rota (the loop is closing): let it end
                # the handler itself raised CancelledError: an ordinary failed attempt, never a
                # run that silently vanishes while its lease is renewed forever
                error = error_info(exc)
                self._record(run, self._failure(job, task, Outcome.FAILED, error))
                return
            if current is not None:
                current.uncancel()
            if reason == "timeout":
                error = ErrorInfo("TimeoutError", f"timed out after {job.timeout:g}s")
                self._record(run, self._failure(job, task, Outcome.TIMED_OUT, error))
            else:
                self._drop(run, reason)
        except Retry as signal:
            error = ErrorInfo("Retry", str(signal))
            self._record(run, self._failure(job, task, Outcome.FAILED, error, after=signal.after))
        except Cancel as signal:
            error = ErrorInfo("Cancel", signal.reason)
            self._record(run, Finish(job.id, job.token, Outcome.CANCELLED, error=error))
        except Exception as exc:
            error = error_info(exc)
            permanent = isinstance(exc, PayloadError)
            self._record(run, self._failure(job, task, Outcome.FAILED, error, permanent=permanent))
        else:
            self._record(run, Finish(job.id, job.token, Outcome.SUCCEEDED, result=encode_result(result)))

    def _failure(
        self,
        job: Job,
        task: Task[Any] | None,
        outcome: Outcome,
        error: ErrorInfo,
        *,
        after: float | None = None,
        permanent: bool = False,
    ) -> Finish:
        policy = task.retry if task is not None else None
        return failure(
            job, policy, outcome, error, now=self.clock.now(), rng=self.rng, after=after, permanent=permanent
        )

    def _record(self, run: _Run, finish: Finish) -> None:
        if run.lock is not None:
            finish = dataclasses.replace(finish, fence=run.lock.fence)
        run.finishing = True
        _cancel_watchdog(run)
        self._outbox.append((run, finish))
        self._outbox_ready.set()

    def _drop(self, run: _Run, reason: str) -> None:
        """The run ended without an outcome to write (lease lost, or released at shutdown)."""
        _cancel_watchdog(run)
        if reason in ("shutdown", "lock_busy"):
            run.finishing = True
            self._outbox.append((run, _RELEASE))
            self._outbox_ready.set()
            return
        self.counters.lost += 1
        log.warning("job %s (%s) stopped: %s", run.job.id, run.job.task, reason.replace("_", " "))
        self._forget(run)

    def _forget(self, run: _Run) -> None:
        if run.lock is not None:
            run.lock.close()  # only now: the outcome it fences is durable (or dropped)
        self._running.pop(run.job.id, None)
        self._slot_free.set()

    # -- writing outcomes --------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            await self._flush()

    async def _flush(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            finishes = [(run, fin) for run, fin in batch if fin is not _RELEASE]
            releases = [run for run, fin in batch if fin is _RELEASE]
            store = self.app.store
            if finishes:
                results = [fin for _, fin in finishes]
                applied = await self._store(
                    lambda: store.finish(results, worker=self.id, now=self.clock.now()), "finish"
                )
                for (run, fin), ok in zip(finishes, applied or [False] * len(finishes), strict=True):
                    self._settled(run, fin, ok)
            if releases:
                refs = [run.ref for run in releases]
                await self._store(lambda: store.release(refs, now=self.clock.now()), "release")
                for run in releases:
                    self.counters.released += 1
                    self.app.events.emit(
                        Event(EventKind.RELEASED, run.job)
                    ) if self.app.events.active else None
                    self._forget(run)

    def _settled(self, run: _Run, fin: Finish, applied: bool) -> None:
        self._forget(run)
        if not applied:
            self.counters.lost += 1
            log.warning("outcome of job %s dropped: its lease was lost", run.job.id)
            return
        counters = self.counters
        if fin.retry_at is not None:
            self._rescan.set()  # the idle claim loop sleeps until the old next due time
            counters.retried += 1
            kind = EventKind.RETRYING
        elif fin.outcome is Outcome.SUCCEEDED:
            counters.succeeded += 1
            kind = EventKind.SUCCEEDED
        elif fin.outcome is Outcome.CANCELLED:
            counters.cancelled += 1
            kind = EventKind.CANCELLED
        else:
            counters.failed += 1
            kind = EventKind.FAILED
        if self.app.events.active:
            self.app.events.emit(Event(kind, run.job, error=fin.error, retry_at=fin.retry_at))

    # -- leases ------------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        interval = self.lease.total_seconds() / 3
        store = self.app.store
        last_ok = self.clock.monotonic()
        while True:
            await self.clock.sleep(interval)
            runs = [r for r in self._running.values() if not r.finishing and r.reason is None]
            if not runs:
                last_ok = self.clock.monotonic()
                continue
            refs = [r.ref for r in runs]
            try:
                lost = await store.heartbeat(refs, lease_for=self.lease, now=self.clock.now())
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)
                if self.clock.monotonic() - last_ok >= self.lease.total_seconds():
                    # our leases have expired as far as anyone can tell: stop those runs
                    for run in runs:
                        self._cancel(run, "lease_lost")
                continue
            last_ok = self.clock.monotonic()
            for job_id in lost:
                lost_run = self._running.get(job_id)
                if lost_run is not None:
                    self._cancel(lost_run, "lease_lost")

    # -- shutdown ----------------------------------------------------------------------------

    async def _drain(self) -> None:
        """Wait up to ``grace`` for running handlers, then cancel the rest for release."""
        pending = [r.task for r in self._running.values() if r.task is not None and not r.task.done()]
        if pending:
            log.info("waiting up to %ss for %d running jobs", self.settings.grace, len(pending))
            grace = asyncio.ensure_future(self.clock.sleep(float(self.settings.grace)))  # type: ignore[arg-type]
            everything = asyncio.ensure_future(asyncio.wait(pending))
            await asyncio.wait([grace, everything], return_when=asyncio.FIRST_COMPLETED)
            grace.cancel()
            everything.cancel()
        for run in list(self._running.values()):
            self._cancel(run, "shutdown")
        remaining = [r.task for r in self._running.values() if r.task is not None]
        await asyncio.gather(*remaining, return_exceptions=True)


_RELEASE = Finish("", 0, Outcome.CANCELLED)  # marker in the outbox: give the lease back


def _cancel_watchdog(run: _Run) -> None:
    if run.watchdog is not None:
        run.watchdog.cancel()
        run.watchdog = None
