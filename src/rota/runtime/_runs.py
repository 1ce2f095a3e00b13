"""What the worker keeps per claimed job, why it stops one, and its counters."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum

from rota._clock import Timer
from rota._models import ErrorInfo, Finish, Job, LeaseRef, Outcome, Progress
from rota.runtime.jobcontext import RunTransaction
from rota.runtime.locks import TaskLock
from rota.stores.base import Store


class Stop(Enum):
    """Why the worker ended a run before its handler did."""

    TIMEOUT = "timeout"  # the job's timeout passed: a failed attempt (TIMED_OUT)
    LEASE_LOST = "lease lost"  # the store gave the job to another worker: nothing to record
    LOCK_LOST = "lock lost"  # the task's lock moved on: nothing to record
    LOCK_BUSY = "lock busy"  # the task's lock stayed taken: given back, attempt not spent
    SHUTDOWN = "shutdown"  # the worker is stopping: given back, attempt not spent
    ABORTED = "aborted"  # the job was aborted (``app.abort``): the store recorded the attempt

    @property
    def gives_back(self) -> bool:
        """Whether the job is released (pending again, its attempt not spent)."""
        return self in (Stop.SHUTDOWN, Stop.LOCK_BUSY)


@dataclass(eq=False, slots=True)
class Run:
    """One claimed job on this worker, from claim until its outcome (or release) is durable.
    One per running job, so slotted: up to ``concurrency`` of them at once."""

    job: Job
    task: asyncio.Task[None] | None = None  # running the handler; None for a job given back unstarted
    reason: Stop | None = None  # why we stopped it
    finishing: bool = False  # settled: an outcome or a release waits to be written
    lost: bool = False  # the store says the lease is gone: no more heartbeats for it
    abandoned: bool = False  # released at shutdown while its handler ignored cancellation
    watchdog: Timer | None = None  # the job's timeout
    lock: TaskLock | None = None  # held for a task with ``lock=``; fences the outcome
    started: float | None = None  # the clock's monotonic time its handler started
    duration: float | None = None  # seconds its handler ran, once it ended
    progress: ProgressState | None = None  # made by the first ``JobContext.progress``
    #: the run's ``JobContext`` (runtime.jobcontext), made when the handler asks for it
    context: object | None = None
    settled: Finish | None = None  # the outcome recorded for it
    error: BaseException | None = None  # what its handler raised, if it failed
    store: Store | None = None  # where ``ctx.transaction()`` opens its transaction
    transaction: RunTransaction | None = None  # ``ctx.transaction()``, once entered
    #: the job was aborted while this run went on (``JobContext.aborted``; its reason in
    #: ``abort``): a plain ``def`` handler, which cannot be cancelled, polls it
    aborted: bool = False
    abort: ErrorInfo | None = None
    checking: bool = False  # a read of the store is checking whether the job ended

    @property
    def ref(self) -> LeaseRef:
        return LeaseRef(self.job.id, self.job.token)

    @property
    def outcome(self) -> Outcome | None:
        """How the attempt ended: its recorded outcome, ``released`` for a job given back,
        ``lease_lost`` for a run stopped without one; None while it runs."""
        if self.settled is not None:
            return self.settled.outcome
        if self.reason is None:
            return None
        if self.reason is Stop.ABORTED:
            return Outcome.ABORTED
        return Outcome.RELEASED if self.reason.gives_back else Outcome.LEASE_LOST


@dataclass(eq=False)
class ProgressState:
    """A run's progress as the worker stores it: at most one write per ``INTERVAL``; a value
    reported meanwhile waits for the next write (``timer``) or goes with the outcome."""

    latest: Progress
    dirty: bool = True  # ``latest`` is not stored yet
    busy: bool = False  # a write is in flight
    next_at: float = 0.0  # the clock's monotonic time the next write may start
    timer: Timer | None = None  # the write deferred by the throttle


@dataclass
class WorkerCounters:
    """What a worker did so far (``worker.counters``)."""

    claimed: int = 0
    succeeded: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    lost: int = 0
    aborted: int = 0  # runs stopped because their job was aborted
    released: int = 0
    unwritten: int = 0  # outcomes and releases given up at the shutdown bound (store down)


def cancel_watchdog(run: Run) -> None:
    if run.watchdog is not None:
        run.watchdog.cancel()
        run.watchdog = None
