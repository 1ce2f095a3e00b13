"""Writing what runs ended with: outcomes in batches through ``Store.finish``, jobs given
back through ``Store.release``; a run's slot (and its lease's heartbeats) last until then."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from rota._clock import Clock
from rota._events import Event, EventKind
from rota._models import ErrorInfo, Finish, Outcome
from rota.runtime._progress import ProgressWriter
from rota.runtime._runs import Run, Stop, WorkerCounters, cancel_watchdog
from rota.runtime.context import RuntimeContext
from rota.runtime.resilience import until_stopped

T = TypeVar("T")


class Outbox:
    """The worker's part that records outcomes (a mixin of ``Worker``): runs settled with an
    outcome wait in ``_finishes``, runs given back in ``_releases``, until written."""

    context: RuntimeContext
    clock: Clock
    id: str
    counters: WorkerCounters
    _progress_writer: ProgressWriter
    _running: dict[str, Run]
    _finishes: list[tuple[Run, Finish]]
    _releases: list[Run]
    _outbox_ready: asyncio.Event
    _slot_free: asyncio.Event
    _rescan: asyncio.Event
    _abandon: asyncio.Event
    _closing: bool

    async def _write(self, call: Callable[[], Awaitable[T]], what: str) -> T | None:
        """An outcome or release written through outages, until the shutdown bound passes
        (then None: the lease will expire and another worker takes the job)."""
        return await until_stopped(
            call, clock=self.clock, what=what, stopping=self._abandon.is_set, interrupt=self._abandon,
            wake=self.context.store.wait_reconnected,
        )  # fmt: skip

    def _record(self, run: Run, finish: Finish) -> None:
        if run.finishing:
            return  # already settled (released at shutdown while its handler ran on)
        if run.lock is not None:
            finish = dataclasses.replace(finish, fence=run.lock.fence)
        if run.progress is not None:  # the last report goes with the outcome unless stored
            last = self._progress_writer.pending(run)
            if last is not None:
                finish = dataclasses.replace(finish, progress=last)
        run.finishing = True
        run.settled = finish
        if run.started is not None:
            run.duration = self.clock.monotonic() - run.started
        cancel_watchdog(run)
        self._finishes.append((run, finish))
        self._outbox_ready.set()

    def _drop(self, run: Run, reason: Stop) -> None:
        """The run ended without an outcome to write (lease lost, or released at shutdown)."""
        if run.finishing:
            return
        if run.started is not None:
            run.duration = self.clock.monotonic() - run.started
        if run.progress is not None:
            self._progress_writer.pending(run)  # no write after this: it has no outcome to carry it
        cancel_watchdog(run)
        if reason.gives_back:
            run.finishing = True
            self._releases.append(run)
            self._outbox_ready.set()
            return
        self.counters.lost += 1
        self._lost(run, reason.value)
        self._forget(run)

    def _lost(self, run: Run, why: str) -> None:
        events = self.context.events
        if events.wants(EventKind.LEASE_LOST):
            error = ErrorInfo("LeaseLost", why)
            lost = Event(
                EventKind.LEASE_LOST, run.job, error=error, duration=run.duration,
                outcome=Outcome.LEASE_LOST, worker=self.id,
            )  # fmt: skip
            events.emit(lost)

    def _forget(self, run: Run) -> None:
        # the JobContext and the handler's exception (its frames) refer to the run: no
        # reference cycle is left for the garbage collector
        run.context = run.error = None
        if run.lock is not None:
            run.lock.close()  # only now: the outcome it fences is durable (or dropped)
        self._running.pop(run.job.id, None)
        self._slot_free.set()

    async def _flush_loop(self) -> None:
        """Writes outcomes as they come; at shutdown (``_closing``) it returns once the outbox
        is empty. It is never cancelled mid-write: a write cut off is a job left running."""
        while True:
            await self._outbox_ready.wait()
            self._outbox_ready.clear()
            await self._flush()
            if self._closing and not (self._finishes or self._releases):
                return

    async def _flush(self) -> None:
        events = self.context.events
        while self._finishes or self._releases:
            finishes, self._finishes = self._finishes, []
            releases, self._releases = self._releases, []
            store = self.context.store
            if finishes:
                results = [fin for _, fin in finishes]
                applied = await self._write(
                    lambda: store.finish(results, worker=self.id, now=self.clock.now()), "finish"
                )
                if applied is None:  # given up at the shutdown bound: the leases will expire
                    self._unwritten(run for run, _ in finishes)
                else:
                    for (run, fin), ok in zip(finishes, applied, strict=True):
                        self._settled(run, fin, ok)
            if releases:
                refs = [run.ref for run in releases]
                released = await self._write(lambda: store.release(refs, now=self.clock.now()), "release")
                if released is None:
                    self._unwritten(releases)
                    continue
                for run in releases:
                    self.counters.released += 1
                    if events.wants(EventKind.RELEASED):
                        events.emit(
                            Event(
                                EventKind.RELEASED, run.job, duration=run.duration,
                                outcome=Outcome.RELEASED, worker=self.id,
                            )
                        )  # fmt: skip
                    self._forget(run)

    def _unwritten(self, runs: Iterable[Run]) -> None:
        for run in runs:
            self.counters.unwritten += 1
            self._forget(run)

    def _settled(self, run: Run, fin: Finish, applied: bool) -> None:
        self._forget(run)
        if not applied:
            self.counters.lost += 1
            self._lost(run, "lease lost: the outcome was not recorded")
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
        events = self.context.events
        if events.wants(kind):
            events.emit(
                Event(
                    kind, run.job, error=fin.error, retry_at=fin.retry_at, duration=run.duration,
                    outcome=fin.outcome, worker=self.id,
                )
            )  # fmt: skip
