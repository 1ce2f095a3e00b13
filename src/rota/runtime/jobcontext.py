"""The job context: what a handler can know about the run it is in, and how it reports.

A handler gets one by declaring a parameter annotated ``rota.JobContext`` (after its payload,
if it takes one); any code running inside the run (the handler, what it calls, a plain
``def`` handler's thread) gets the same one from ``rota.current_job()``. The worker sets a
context variable to the run when the handler starts, and builds the ``JobContext`` only
when it is asked for, so a handler that never asks pays for nothing but that variable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Generator, MutableMapping
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, Protocol

from rota._models import Job, Progress


class RunView(Protocol):
    """What a context reads of the worker's run (``runtime._runs.Run``)."""

    job: Job
    context: object | None  # the run's JobContext, once made


class Reporter(Protocol):
    """Where a context's reports go (``runtime._progress.ProgressWriter``)."""

    def report(self, run: Any, progress: Progress, /) -> Awaitable[None]: ...


#: The run whose handler is running in this context, where its reports go, and the
#: worker's loop (set by the worker when the handler starts).
CURRENT_RUN: ContextVar[tuple[RunView, Reporter, asyncio.AbstractEventLoop] | None] = ContextVar(
    "rota_current_run", default=None
)


class _Done:
    """An awaitable that is already complete (a report that writes nothing now)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # a generator that ends at once


DONE = _Done()

#: The logger ``JobContext.log`` writes to.
JOB_LOGGER = "rota.job"


class JobLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger whose records carry the job's fields in ``extra`` (``job_id``, ``task``,
    ``queue``, ``attempt``, ``max_attempts``, ``worker``), merged with the ``extra`` of the
    call (which wins)."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


class JobContext:
    """The run a handler is in: ``@app.task async def h(payload: P, ctx: rota.JobContext)``.

    Fields of the claimed job: ``job_id``, ``task``, ``queue``, ``attempt`` (1 on the first
    run, the number compared with ``max_attempts``; a requeue starts again at 1), ``token``
    (the claim's fencing token: it grows with every claim, so a write fenced with it
    outside rota refuses a stale run), ``schedule_id`` and ``fire_time`` (for a job a
    schedule fired), ``deadline`` (when the task's timeout cancels this run, or None) and
    ``worker_id``. ``log`` is a logger bound to those fields; ``progress()`` reports how far
    the run is (shown by ``rota jobs show``).
    """

    __slots__ = ("_log", "_loop", "_run", "_writer")

    def __init__(self, run: RunView, writer: Reporter, loop: asyncio.AbstractEventLoop) -> None:
        self._run = run
        self._writer = writer
        self._loop = loop
        self._log: JobLogger | None = None

    def __repr__(self) -> str:
        return f"<JobContext job={self.job_id} task={self.task} attempt={self.attempt}/{self.max_attempts}>"

    @property
    def job_id(self) -> str:
        return self._run.job.id

    @property
    def task(self) -> str:
        return self._run.job.task

    @property
    def queue(self) -> str:
        return self._run.job.queue

    @property
    def attempt(self) -> int:
        return self._run.job.attempts

    @property
    def max_attempts(self) -> int:
        return self._run.job.max_attempts

    @property
    def token(self) -> int:
        return self._run.job.token

    @property
    def schedule_id(self) -> str | None:
        return self._run.job.schedule_id

    @property
    def fire_time(self) -> datetime | None:
        return self._run.job.fire_time

    @property
    def deadline(self) -> datetime | None:
        """When the task's timeout cancels this run (its start plus the timeout), or None."""
        job = self._run.job
        if job.timeout is None or job.started_at is None:
            return None
        return job.started_at + timedelta(seconds=job.timeout)

    @property
    def worker_id(self) -> str:
        """The worker running the job (the lease owner)."""
        return self._run.job.lease_owner or ""

    @property
    def log(self) -> JobLogger:
        """A logger (``rota.job``) whose records carry the job's fields in ``extra``."""
        if self._log is None:
            job = self._run.job
            fields = {
                "job_id": job.id, "task": job.task, "queue": job.queue, "attempt": job.attempts,
                "max_attempts": job.max_attempts, "worker": job.lease_owner,
            }  # fmt: skip
            self._log = JobLogger(logging.getLogger(JOB_LOGGER), fields)
        return self._log

    def progress(self, fraction: float, message: str | None = None) -> Awaitable[None]:
        """Report how far the run is: ``fraction`` from 0 to 1 and an optional message (at
        most 1,000 characters; ``ConfigError`` otherwise).

        Stored at most once a second per job (a report within the second waits for its
        end, replaced by any later one), and the last report is stored with the outcome at
        the latest. Await it in an ``async def`` handler (it returns once the value is
        stored, or at once when it waits); call it without ``await`` from a plain ``def``
        handler. Never raises for a store that is down: progress is informative.
        """
        value = Progress(fraction, message)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            return self._writer.report(self._run, value)
        # another thread (a plain def handler): hand the report to the worker's loop (a closed
        # loop: the worker has stopped, and this is a thread it abandoned)
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._writer.report, self._run, value)
        return DONE


def current_job() -> JobContext | None:
    """The ``JobContext`` of the job running here: in its handler, in anything it calls,
    and in a plain ``def`` handler's thread. None outside a run."""
    entry = CURRENT_RUN.get()
    if entry is None:
        return None
    return context_of(*entry)


def context_of(run: RunView, writer: Reporter, loop: asyncio.AbstractEventLoop) -> JobContext:
    """The run's context, made on first use."""
    context = run.context
    if isinstance(context, JobContext):
        return context
    made = JobContext(run, writer, loop)
    run.context = made
    return made
