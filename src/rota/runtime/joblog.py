"""The job log: one record per job start and outcome, under the ``rota.jobs`` logger.

While a worker runs, one ``JobLog`` listens to its app's events (one per app however many
workers run on it in this process, so no run is logged twice). Each record carries the
job's fields in ``extra`` (``event``, ``job_id``, ``task``, ``queue``, ``attempt``,
``max_attempts``, ``worker``; ``duration`` once the handler ran; ``error`` and
``error_type`` for failures; ``retry_in`` for retries), for JSON formatters and filters.

Levels: starts, successes, cancellations and releases are INFO (``rota worker -v``); a failed
attempt that will be retried and a lost lease are WARNING; a job that failed for good and a
job of a task this worker does not know are ERROR. The kinds whose level is disabled when the
worker starts are not subscribed at all, so at the default level (WARNING) a job that
succeeds costs the worker no event and no record.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

from rota._clock import Clock
from rota._events import Event, EventBus, EventKind

log = logging.getLogger("rota.jobs")

#: the level of each kind's record
LEVELS: dict[EventKind, int] = {
    EventKind.STARTED: logging.INFO,
    EventKind.SUCCEEDED: logging.INFO,
    EventKind.CANCELLED: logging.INFO,
    EventKind.RELEASED: logging.INFO,
    EventKind.RETRYING: logging.WARNING,
    EventKind.LEASE_LOST: logging.WARNING,
    EventKind.FAILED: logging.ERROR,
}
#: the error type of a job whose task is not registered on the worker (always ERROR)
UNKNOWN_TASK = "TaskNotFound"


class JobLog:
    """Turns the events of the runs of an app's workers into log records (a listener of the
    app's event bus; ``attach`` shares one per bus)."""

    def __init__(self, clock: Clock, logger: logging.Logger = log) -> None:
        self.clock = clock
        self.log = logger

    def kinds(self) -> frozenset[EventKind]:
        """The kinds with a record at an enabled level now (a retry of an unknown task is
        an ERROR record, so retries are wanted while ERROR is enabled)."""
        enabled = self.log.isEnabledFor
        return frozenset(
            kind
            for kind, level in LEVELS.items()
            if enabled(level) or (kind is EventKind.RETRYING and enabled(logging.ERROR))
        )

    def __call__(self, event: Event) -> None:
        worker = event.worker
        if worker is None:
            return  # not a run's event (an enqueue, app.cancel() of a pending job)
        kind, job, error = event.kind, event.job, event.error
        unknown = error is not None and error.type == UNKNOWN_TASK
        level = logging.ERROR if unknown else LEVELS[kind]
        if not self.log.isEnabledFor(level):
            return
        extra: dict[str, Any] = {
            "event": kind.value, "job_id": job.id, "task": job.task, "queue": job.queue,
            "attempt": job.attempts, "max_attempts": job.max_attempts, "worker": worker,
        }  # fmt: skip
        ran = ""
        if event.duration is not None:
            extra["duration"] = round(event.duration, 6)
            ran = f" after {event.duration:.3f}s"
        if error is not None:
            extra["error"] = error.summary()
            extra["error_type"] = error.type
        args: tuple[object, ...]
        if unknown:
            msg = "job %s: unknown task %r (not registered on worker %s); %s"
            args = (job.id, job.task, worker, self._then(event, extra))
        elif kind is EventKind.STARTED:
            msg = "job %s (%s) started: attempt %d of %d"
            args = (job.id, job.task, job.attempts, job.max_attempts)
        elif kind is EventKind.SUCCEEDED:
            msg, args = "job %s (%s) succeeded%s", (job.id, job.task, ran)
        elif kind is EventKind.RETRYING or kind is EventKind.FAILED:
            what = error.summary() if error is not None else "no error recorded"
            msg = "job %s (%s) failed attempt %d of %d%s: %s; %s"
            args = (job.id, job.task, job.attempts, job.max_attempts, ran, what, self._then(event, extra))
            if kind is EventKind.FAILED and error is not None and error.traceback:
                extra["traceback"] = error.traceback
        elif kind is EventKind.CANCELLED:
            reason = error.message if error is not None and error.message else "by its handler"
            msg, args = "job %s (%s) cancelled%s: %s", (job.id, job.task, ran, reason)
        elif kind is EventKind.RELEASED:
            msg, args = "job %s (%s) released unfinished%s; it runs again", (job.id, job.task, ran)
        else:  # LEASE_LOST
            why = error.message if error is not None else "lease lost"
            msg, args = "job %s (%s) stopped%s: %s", (job.id, job.task, ran, why)
        self.log.log(level, msg, *args, extra=extra)

    def _then(self, event: Event, extra: dict[str, Any]) -> str:
        """What happens next to a failed job: its retry, or nothing."""
        if event.retry_at is None:
            return "failed for good"
        delay = max(0.0, (event.retry_at - self.clock.now()).total_seconds())
        extra["retry_in"] = round(delay, 3)
        return f"retrying in {delay:.1f}s"


#: the job log of each event bus while workers run on it: [log, unsubscribe, workers]
_shared: weakref.WeakKeyDictionary[EventBus, list[Any]] = weakref.WeakKeyDictionary()


def attach(events: EventBus, clock: Clock) -> Callable[[], None]:
    """Log the runs of the workers on ``events`` (a worker calls this when it starts; the
    kinds are those the ``rota.jobs`` level enables then); returns the detach, which
    unsubscribes once the last worker of the bus has detached."""
    entry = _shared.get(events)
    if entry is None:
        job_log = JobLog(clock)
        kinds = job_log.kinds()
        unsubscribe = events.subscribe(job_log, kinds) if kinds else (lambda: None)
        entry = _shared[events] = [job_log, unsubscribe, 0]
    entry[2] += 1
    detached = False

    def detach() -> None:
        nonlocal detached
        if detached:
            return
        detached = True
        entry[2] -= 1
        if entry[2] == 0:
            entry[1]()
            if _shared.get(events) is entry:
                del _shared[events]

    return detach
