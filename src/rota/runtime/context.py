"""The runtime context: what the runtime services share, instead of the whole App.

An App resolves its configuration once (``AppConfig``: explicit argument, then environment,
then default) and hands its services one ``RuntimeContext`` (``app.context``): the store, the
clock, the configuration (with the instance id), the task registry, the event bus, the
schedules declared in code and the tracing hooks. The worker, the scheduler, the leader
services, elections, locks and the health report take it and read nothing else: not the App,
not the environment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from rota._clock import Clock
from rota._events import EventBus
from rota._retry import RetryPolicy
from rota._tracing import Tracing
from rota.runtime.declared import DeclaredSchedules
from rota.runtime.jobcontext import JobContext
from rota.runtime.settings import AppConfig
from rota.stores.base import Store

DEFAULT_QUEUE = "default"


class Handler(Protocol):
    """What the runtime needs of a registered task (a ``rota.Task`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def retry(self) -> RetryPolicy: ...
    @property
    def timeout(self) -> float | None: ...
    @property
    def lock(self) -> str | None:
        """The task's lock key template (``@app.task(lock=...)``), or None."""

    @property
    def is_async(self) -> bool: ...
    @property
    def wants_context(self) -> bool:
        """Whether the handler takes a ``JobContext`` (decided when the task is registered)."""

    def decode(self, data: bytes) -> object: ...

    async def invoke(self, payload: object, context: JobContext | None = None) -> object:
        """Run an ``async def`` handler with a decoded payload (and its context, when it
        takes one)."""

    def call_sync(self, payload: object, context: JobContext | None = None) -> object:
        """Run a plain ``def`` handler with a decoded payload (in a worker thread)."""


@dataclass(frozen=True, slots=True)
class Role:
    """What this process does for the app: the local part of a health report."""

    instance_id: str
    election: str | None  # the election's name; None when no election runs
    is_leader: bool
    executes_jobs: bool
    fires_schedules: bool
    runs_worker: bool = False
    runs_scheduler: bool = False


class Running(Protocol):
    """The leader services of a worker or scheduler running on the app in this process."""

    def role(self) -> Role: ...


class Presence:
    """Which services run on the app in this process: what ``app.health()`` describes. The
    leader services of a worker or scheduler register here while they are started."""

    def __init__(self) -> None:
        self.running: Running | None = None


@dataclass(frozen=True, slots=True, eq=False)
class RuntimeContext:
    """What runtime services run with (``app.context``); the same for every service of an app."""

    store: Store
    clock: Clock
    config: AppConfig
    tasks: Mapping[str, Handler]  # by name; the App's live registry
    events: EventBus
    declared: DeclaredSchedules
    presence: Presence
    open: Callable[[], Awaitable[object]]  # connects the store once (``App.open``)
    tracing: Tracing | None = None  # the span hooks; None: tracing is off (rota._tracing)

    @property
    def instance_id(self) -> str:
        """This process's id in leases and logs (``AppConfig.instance_id``)."""
        return self.config.instance_id

    @property
    def queues(self) -> tuple[str, ...]:
        """The queues of the registered tasks (what a worker serves by default)."""
        return queues_of(self.tasks)


def queues_of(tasks: Mapping[str, Handler]) -> tuple[str, ...]:
    """The queues of ``tasks``, sorted; the default queue when there are none."""
    return tuple(sorted({t.queue for t in tasks.values()} or {DEFAULT_QUEUE}))
