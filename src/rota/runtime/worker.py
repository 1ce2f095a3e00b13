"""The worker: claims jobs as slots free up, runs them, heartbeats their leases, records outcomes.

One coroutine claims (only as many jobs as there are free slots), one heartbeats every lease at
a third of its length, one writes outcomes in batches. Each job runs in its own task; ``async``
handlers on the loop, plain ``def`` handlers in a bounded pool of daemon threads. A slot stays
busy, and its lease heartbeated, until its outcome is durable, so a crash never loses more
than the jobs it was running, and those come back when their leases expire.

While it runs, the worker keeps an entry in the store's registry of live workers (``rota
workers``, ``app.workers()``), refreshed at the heartbeat interval and removed when it stops;
an entry not refreshed for ``lease`` seconds (three intervals) expires.

Shutdown (``stop()``): claiming stops; running jobs get ``grace`` seconds; the rest are
cancelled and released (pending again, attempt not spent) within a short bound after the
grace (``SHUTDOWN_BOUND``), whatever the handlers or the store do. A second ``stop(force=True)``
skips what is left of the grace and shortens that bound (``FORCED_BOUND``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from rota._loop import loop_name
from rota._models import Finish, WorkerInfo
from rota._version import __version__
from rota.runtime import joblog
from rota.runtime._aborts import Aborts
from rota.runtime._execution import Execution
from rota.runtime._outbox import Outbox
from rota.runtime._progress import ProgressWriter
from rota.runtime._registration import Registration
from rota.runtime._runs import Run, Stop, WorkerCounters
from rota.runtime.context import RuntimeContext
from rota.runtime.lifecycle import LoopService
from rota.runtime.resilience import OUTAGES, until_stopped
from rota.runtime.services import LeaderServices
from rota.runtime.threads import DaemonThreadPool
from rota.runtime.waiting import first_of
from rota.runtime.worker_settings import WorkerSettings, resolve_concurrency

__all__ = ["FORCED_BOUND", "SHUTDOWN_BOUND", "Worker", "WorkerCounters"]

log = logging.getLogger("rota.worker")
T = TypeVar("T")

#: Real seconds after the grace period for everything that is left: cancelled handlers
#: unwinding, the last outcomes and releases written (retried through a blip), leader services
#: stopped. Past it the worker gives up what it could not do (unreleased jobs come back when
#: their leases expire) rather than keep a stopping process alive.
SHUTDOWN_BOUND = 1.5
#: The same bound from a second ``stop(force=True)`` on.
FORCED_BOUND = 1.0
#: Of SHUTDOWN_BOUND, the most that cancelled handlers get to unwind before their jobs are
#: released anyway (a handler that swallows its cancellation cannot hold the release back);
#: FORCED_UNWIND once forced, so that the releases keep most of FORCED_BOUND.
UNWIND = 0.5
FORCED_UNWIND = 0.2


class Worker(LoopService, Execution, Outbox, Aborts):
    """Runs an app's jobs until ``stop()`` (or SIGTERM/SIGINT under ``rota worker``):
    ``app.worker(...)`` builds one."""

    def __init__(self, context: RuntimeContext, settings: WorkerSettings | None = None) -> None:
        self.settings = settings or WorkerSettings()
        self.context = context
        self.clock = context.clock
        self.id = self.settings.name or context.instance_id
        super().__init__(f"rota-worker-{self.id}")
        self.queues: tuple[str, ...] = self.settings.queues or context.queues
        self.lease = self.settings.lease  # seconds
        self.concurrency = self._resolve_concurrency()
        self._lease_for = timedelta(seconds=self.lease)  # as the store takes it
        self.counters = WorkerCounters()
        self.rng = random.Random()
        #: Tasks still running when ``run()`` returned: handlers that ignored cancellation,
        #: store calls that never answered. Nothing they do can change a job any more (their
        #: runs were released or given up); a process may exit without waiting for them.
        self.stranded: list[asyncio.Future[None]] = []
        self._running: dict[str, Run] = {}
        self._checks: set[asyncio.Future[None]] = set()  # reads checking whether a job was aborted
        self._finishes: list[tuple[Run, Finish]] = []
        self._releases: list[Run] = []
        self._outbox_ready = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._rescan = asyncio.Event()  # set when our own writes moved a due time
        self._stop = asyncio.Event()
        self._forced = asyncio.Event()
        self._abandon = asyncio.Event()  # past the shutdown bound: stop retrying store writes
        self._stopping = False
        self._closing = False  # the finisher exits once the outbox is empty
        self._forced_at: float | None = None
        self._pool: DaemonThreadPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._progress_writer = ProgressWriter(context.store, self.clock)
        self._registration = Registration(context.store, self.clock, self.info, self.lease / 3)
        self.started_at = self.clock.now()  # reset when it starts serving
        self.services = LeaderServices(
            context, settings=self.settings.leader, scheduler=self.settings.scheduler,
            retention=self.settings.retention, prune_schedules=self.settings.prune_schedules,
            schedule_lease=self.settings.schedule_lease, worker=True,
        )  # fmt: skip

    # -- control -----------------------------------------------------------------------------

    def _resolve_concurrency(self) -> int:
        """``settings.concurrency``, or sized to the tasks served (see resolve_concurrency)."""
        tasks = self.context.tasks.values()
        return resolve_concurrency(self.settings, (t.is_async for t in tasks if t.queue in self.queues))

    @property
    def active(self) -> int:
        return len(self._running)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self, *, force: bool = False) -> Awaitable[None]:
        """Stop claiming and shut down gracefully (safe from signal handlers); await it to
        wait until the shutdown is complete.

        ``force`` (a second SIGTERM/SIGINT under ``rota worker``): do not wait out the rest
        of the grace period, and bound what is left by ``FORCED_BOUND``. Running jobs are
        still released as far as the store allows within it.
        """
        if force and not self._forced.is_set():
            self._forced_at = time.monotonic()
            self._forced.set()
        return super().stop()

    def _request_stop(self) -> None:
        self._stopping = True
        self._stop.set()

    async def _serve(self) -> None:
        """Work until stopped, then wait ``grace`` for running jobs and release the rest."""
        await self.context.open()
        unsubscribe = joblog.attach(self.context.events, self.clock)
        try:
            await self._work()
        finally:
            unsubscribe()  # after the shutdown: its releases are logged too

    async def _work(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.started_at = self.clock.now()
        self.concurrency = self._resolve_concurrency()  # (tasks registered since __init__)
        threads = self.settings.sync_threads or self.concurrency
        self._pool = DaemonThreadPool(threads, "rota-sync")
        heartbeat = asyncio.create_task(self._heartbeat_loop(), name="rota-heartbeat")
        finisher = asyncio.create_task(self._flush_loop(), name="rota-finisher")
        registration_loop = asyncio.create_task(self._registration.run(), name="rota-registration")
        claimer: asyncio.Task[None] | None = None
        unwatch = self.context.store.watch_ended(self._heard_ended)  # aborts of our runs
        try:
            await self.services.start()
            log.info(
                "worker %s serving queues %s on %s (concurrency %d, %s event loop)",
                self.id,
                ",".join(self.queues),
                self.context.store.describe(),
                self.concurrency,
                loop_name(asyncio.get_running_loop()),
            )
            self._ready()
            claimer = asyncio.create_task(self._claim_loop(), name="rota-claimer")
            stopped = asyncio.ensure_future(self._stop.wait())
            try:
                await asyncio.wait([claimer, stopped], return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
        finally:
            self._request_stop()
            unwatch()
            for check in self._checks:
                check.cancel()
            await self._shut_down(claimer, heartbeat, finisher, registration_loop)
        if claimer.done() and not claimer.cancelled():
            claimer.result()  # the claim loop died of an error that is not an outage: raise it

    @property
    def registered(self) -> bool:
        """Its entry in the store's registry of live workers was written by the last refresh."""
        return self._registration.registered

    # -- claiming ----------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        store = self.context.store
        batch = self.settings.claim_batch or self.concurrency
        idle_streak = 0
        while not self._stopping:
            if not self.services.may_execute:
                await self._first(self.services.wait_changed())
                continue
            free = self.concurrency - len(self._running)
            if free <= 0:
                self._slot_free.clear()
                await self._first(self._slot_free.wait())
                continue
            want = min(free, batch)
            claimed_at = self.clock.now()  # (at most the claim's own now)
            jobs = await self._store(
                lambda: store.claim(
                    queues=self.queues,
                    worker=self.id,
                    limit=want,
                    lease_for=self._lease_for,
                    now=self.clock.now(),
                ),
                "claim",
            )
            if jobs is None:
                break
            for job in jobs:
                if self.stopping:  # claimed as the stop came: give it straight back
                    run = self._running[job.id] = Run(job)
                    self._drop(run, Stop.SHUTDOWN)
                else:
                    self._launch(job)
            if len(jobs) < want and not self._stopping:
                idle_streak = idle_streak + 1 if not jobs else 0
                await self._idle_wait(hot=idle_streak > 1, claimed_at=claimed_at)

    async def _idle_wait(self, *, hot: bool, claimed_at: datetime) -> None:
        """Sleep until new work may exist: a wake-up from the store, the next due time, a free
        slot, or the polling interval (for stores that cannot hear other processes).

        ``hot``: the last claims found nothing; if the store still names a due time that had
        passed when the last claim ran (``claimed_at``), that job cannot be taken (its limits
        hold it back), so only a wake-up or the poll ends the wait, not its due time. A job
        that fell due only after the claim ran (a timer that fired a hair early, a slow
        claim) is claimed at once."""
        store = self.context.store
        due = await self._store(lambda: store.next_due(queues=self.queues), "next_due")
        poll = self.settings.poll_interval if self.settings.poll_interval is not None else store.poll_interval
        self._rescan.clear()
        waits: list[Awaitable[object]] = [store.wait_for_jobs(poll), self._rescan.wait()]
        if due is not None and due.tzinfo is not None:  # (a store's bad row must not stop us)
            delay = (due - self.clock.now()).total_seconds()
            if delay > 0 or not hot or due > claimed_at:
                waits.append(self.clock.sleep(max(0.0, delay)))
        await self._first(*waits)

    async def _first(self, *awaitables: Awaitable[object]) -> None:
        """Wait for the first of ``awaitables`` or for stop()."""
        await first_of(*awaitables, self._stop.wait())

    async def _store(self, call: Callable[[], Awaitable[T]], what: str) -> T | None:
        """A claim-side store call retried through outages; None once stopping interrupted
        the retries (a stopping worker never sits out a backoff step)."""
        return await until_stopped(
            call, clock=self.clock, what=what, stopping=lambda: self._stopping, interrupt=self._stop,
            wake=self.context.store.wait_reconnected,
        )  # fmt: skip

    # -- leases ------------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        """Renews every lease this worker still holds, including those whose handler is done
        but whose outcome (or release) is not durable yet: a slow store must not let a
        finished job's lease lapse and another worker run it again."""
        interval = self.lease / 3
        store = self.context.store
        last_ok = self.clock.monotonic()
        site = object()
        try:
            while True:
                await self.clock.sleep(interval)
                runs = [r for r in self._running.values() if not r.lost]
                if not runs:
                    last_ok = self.clock.monotonic()
                    continue
                refs = [r.ref for r in runs]
                try:
                    lost = await store.heartbeat(refs, lease_for=self._lease_for, now=self.clock.now())
                except Exception as exc:
                    OUTAGES.failed(site, "heartbeat", exc)
                    if self.clock.monotonic() - last_ok >= self.lease:
                        # our leases have expired as far as anyone can tell: stop those runs
                        for run in runs:
                            self._cancel(run, Stop.LEASE_LOST)
                    continue
                OUTAGES.recovered(site, "heartbeat")
                last_ok = self.clock.monotonic()
                for job_id in lost:
                    lost_run = self._running.get(job_id)
                    if lost_run is not None and not lost_run.lost:
                        lost_run.lost = True
                        await self._stop_lost(lost_run)  # (an abort, or a lease lost)
        finally:
            OUTAGES.forget(site)

    def info(self) -> WorkerInfo:
        """This worker as the registry of live workers lists it (``rota workers``)."""
        return WorkerInfo(
            id=self.id, host=socket.gethostname(), pid=os.getpid(), queues=self.queues,
            concurrency=self.concurrency, running=len(self._running), version=__version__,
            started_at=self.started_at,
        )  # fmt: skip

    # -- shutdown ----------------------------------------------------------------------------

    def _deadline(self, bound_end: float, forced_bound: float) -> float:
        if self._forced_at is not None:
            return min(bound_end, self._forced_at + forced_bound)
        return bound_end

    async def _settle(
        self, tasks: Iterable[asyncio.Future[None] | None], until: float, forced_bound: float = FORCED_BOUND
    ) -> bool:
        """Wait for ``tasks`` to end, until ``until`` (monotonic), or ``forced_bound`` after a
        forced stop if that is sooner; True when they all did."""
        pending = {t for t in tasks if t is not None and not t.done()}
        while pending:
            left = self._deadline(until, forced_bound) - time.monotonic()
            if left <= 0:
                return False
            forced = asyncio.ensure_future(self._forced.wait()) if not self._forced.is_set() else None
            waits = pending | ({forced} if forced is not None else set())
            await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if forced is not None:
                forced.cancel()
            pending = {t for t in pending if not t.done()}
        return True

    async def _drain(self, claimer: asyncio.Task[None] | None) -> None:
        """Wait up to ``grace`` (on the app's clock) for running handlers and the claim in
        flight; sooner when forced."""
        handlers = [r.task for r in self._running.values() if r.task is not None and not r.task.done()]
        pending = handlers + ([claimer] if claimer is not None and not claimer.done() else [])
        if not pending or self._forced.is_set():
            return
        if handlers:
            log.info("waiting up to %ss for %d running jobs", self.settings.grace, len(handlers))
        everything = asyncio.wait(pending)
        await first_of(self.clock.sleep(self.settings.grace), everything, self._forced.wait())

    async def _shut_down(
        self,
        claimer: asyncio.Task[None] | None,
        heartbeat: asyncio.Task[None],
        finisher: asyncio.Task[None],
        registration_loop: asyncio.Task[None],
    ) -> None:
        services = asyncio.ensure_future(self.services.stop())
        await self._drain(claimer)
        bound_end = time.monotonic() + SHUTDOWN_BOUND
        # whatever still runs is cancelled and, once unwound (or at UNWIND), released
        if claimer is not None:
            claimer.cancel()
        for run in list(self._running.values()):
            self._cancel(run, Stop.SHUTDOWN)
        handlers = [r.task for r in self._running.values() if r.task is not None]
        await self._settle([*handlers, claimer], min(bound_end, time.monotonic() + UNWIND), FORCED_UNWIND)
        for run in list(self._running.values()):
            if run.task is not None and not run.task.done():
                log.warning(
                    "job %s (%s) ignores its cancellation; releasing it anyway", run.job.id, run.job.task
                )
                run.abandoned = True
                self._drop(run, Stop.SHUTDOWN)
                self.stranded.append(run.task)
        # the last outcomes and releases; heartbeats keep their leases alive meanwhile
        self._closing = True
        self._outbox_ready.set()
        if not await self._settle([finisher], bound_end):
            self._abandon.set()  # any backoff pause ends, and no write is retried
            if not await self._settle([finisher], time.monotonic() + 0.1):
                finisher.cancel()
        heartbeat.cancel()
        registration_loop.cancel()
        self._progress_writer.close()
        await self._settle([heartbeat, services, registration_loop], bound_end)
        await self._registration.remove(self.id, bound_end)
        for task in (claimer, finisher, heartbeat, services, registration_loop):
            if task is not None and not task.done():
                task.cancel()
                self.stranded.append(task)
        left = len(self._running) + self.counters.unwritten
        if left:
            log.warning(
                "%d jobs could not be released or finished (store unreachable); they run again "
                "when their leases expire",
                left,
            )
        assert self._pool is not None
        self._pool.shutdown(wait=False, cancel_futures=True)
        log.info("worker %s stopped", self.id)
