"""In-process events: observe jobs as they are enqueued, start and end."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from rota._models import ErrorInfo, Job, Outcome

log = logging.getLogger("rota.events")


class EventKind(StrEnum):
    ENQUEUED = "enqueued"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    RETRYING = "retrying"  # the attempt failed; the job is pending again, due at ``retry_at``
    FAILED = "failed"  # dead: the last attempt failed
    CANCELLED = "cancelled"
    RELEASED = "released"  # given back unfinished at shutdown; runs again elsewhere
    LEASE_LOST = "lease_lost"  # the worker lost the job's lease (or its task lock): no outcome recorded


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a job. The events that end an attempt (succeeded,
    retrying, failed, cancelled by its handler or timed out, released) carry its
    ``outcome`` (as its attempt record has it: ``timed_out`` for a timeout, ``released``
    for a job given back) and ``duration``, the seconds its handler ran (None: it never
    started, e.g. its task is unknown)."""

    kind: EventKind
    job: Job
    error: ErrorInfo | None = None
    retry_at: datetime | None = None  # when the job is due again (RETRYING)
    duration: float | None = None  # seconds the attempt's handler ran (None: it never started)
    worker: str | None = None  # the worker's id, for the events of a run
    outcome: Outcome | None = None  # how the attempt ended (None: no attempt ended)


Listener = Callable[[Event], Awaitable[None] | None]


class EventBus:
    """Synchronous fan-out to listeners; async listeners run as tasks. A failing listener is
    logged and never disturbs the worker."""

    def __init__(self) -> None:
        self._listeners: list[tuple[frozenset[EventKind] | None, Listener]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed: asyncio.Event | None = None
        self._wanted: frozenset[EventKind] = frozenset()

    def subscribe(self, listener: Listener, kinds: frozenset[EventKind] | None = None) -> Callable[[], None]:
        entry = (kinds, listener)
        self._listeners.append(entry)
        self._update_wanted()

        def unsubscribe() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)
                self._update_wanted()

        return unsubscribe

    def _update_wanted(self) -> None:
        wanted: set[EventKind] = set()
        for kinds, _ in self._listeners:
            wanted.update(EventKind if kinds is None else kinds)
        self._wanted = frozenset(wanted)

    @property
    def active(self) -> bool:
        return bool(self._listeners) or self._changed is not None

    def wants(self, kind: EventKind) -> bool:
        """Whether an event of ``kind`` would reach anyone: the worker builds an event only
        then, so that kinds nobody listens to cost it one set lookup per job."""
        return kind in self._wanted or self._changed is not None

    def emit(self, event: Event) -> None:
        if self._changed is not None:
            self._changed.set()
        for kinds, listener in list(self._listeners):
            if kinds is not None and event.kind not in kinds:
                continue
            try:
                result = listener(event)
                if result is not None and inspect.isawaitable(result):
                    task = asyncio.ensure_future(_guard(result))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except Exception:
                log.exception("event listener %r failed on %s", listener, event.kind)

    def changed(self) -> asyncio.Event:
        """An event set on every emit (for waiters such as wait_until_idle)."""
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed


async def _guard(awaitable: Awaitable[None]) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("async event listener failed")
