"""What the worker keeps per claimed job, and its counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rota._models import Job, LeaseRef


@dataclass(eq=False)
class Run:
    """One claimed job on this worker, from claim until its outcome (or release) is durable."""

    job: Job
    task: Any = None  # the asyncio.Task running it; None for a job given back unstarted
    reason: str | None = None  # why we cancelled it: timeout, lease_lost, lock_lost, shutdown...
    finishing: bool = False  # settled: an outcome or a release waits to be written
    lost: bool = False  # the store says the lease is gone: no more heartbeats for it
    abandoned: bool = False  # released at shutdown while its handler ignored cancellation
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
    unwritten: int = 0  # outcomes and releases given up at the shutdown bound (store down)
    extra: dict[str, int] = field(default_factory=dict)


def cancel_watchdog(run: Run) -> None:
    if run.watchdog is not None:
        run.watchdog.cancel()
        run.watchdog = None
