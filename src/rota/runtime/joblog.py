"""The job log: one record per job start and outcome, under the ``rota.jobs`` logger.

A worker subscribes one ``JobLog`` to its app's events while it runs. Each record carries the
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
    """Turns the events of one worker's runs into log records (a listener of the event bus)."""

    def __init__(self, worker: str, clock: Clock, logger: logging.Logger = log) -> None:
        self.worker = worker
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

    def attach(self, events: EventBus) -> Callable[[], None]:
        """Subscribe to ``events`` for the kinds enabled now; returns the unsubscribe."""
        kinds = self.kinds()
        if not kinds:
            return lambda: None
        return events.subscribe(self, kinds)

    def __call__(self, event: Event) -> None:
        if event.worker != self.worker:
            return  # another worker's run, on the same app in this process
        kind, job, error = event.kind, event.job, event.error
        unknown = error is not None and error.type == UNKNOWN_TASK
        level = logging.ERROR if unknown else LEVELS[kind]
        if not self.log.isEnabledFor(level):
            return
        extra: dict[str, Any] = {
            "event": kind.value, "job_id": job.id, "task": job.task, "queue": job.queue,
            "attempt": job.attempts, "max_attempts": job.max_attempts, "worker": self.worker,
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
            args = (job.id, job.task, self.worker, self._then(event, extra))
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
