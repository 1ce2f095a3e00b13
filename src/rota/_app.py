"""The App: task registry, enqueueing, job queries, events; the entry point of the public API.

It resolves its configuration once (``app.config``) and hands the runtime services it builds
(``worker()``, ``scheduler()``, ``leader_election()``, ``lock()``, ``health()``) one
``RuntimeContext`` (``app.context``), never itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar, Unpack, overload

from rota import _limits
from rota._clock import SYSTEM_CLOCK, Clock
from rota._errors import ConfigError, JobNotFound, TaskNotFound
from rota._events import Event, EventBus, EventKind, Listener
from rota._models import Attempt, Job, JobFilter, JobStatus, QueueStats, Schedule, WorkerInfo
from rota._schedules import Schedules, build_schedule
from rota._task import EnqueueOptions, JobSpec, Task, TaskDecorator, TaskOptions, job_from, make_task
from rota._tracing import Tracing, build_tracing, traced_send, tracing_option
from rota.runtime.context import Presence, RuntimeContext, queues_of
from rota.runtime.declared import DeclaredSchedules
from rota.runtime.health import Health, health
from rota.runtime.idle import wait_until_idle
from rota.runtime.jobcontext import JobContext
from rota.runtime.leader import LeaderElection
from rota.runtime.locks import Lock
from rota.runtime.scheduler import Scheduler
from rota.runtime.settings import DEFAULT_ELECTION, AppConfig, LeaderSettings, LeaseOptions, resolve_store_url
from rota.runtime.worker import Worker
from rota.runtime.worker_settings import WorkerSettings
from rota.stores.base import Store
from rota.stores.url import store_from_url
from rota.triggers import Cron, Every, Trigger

P = TypeVar("P")
_EVERY_OPTIONS = ("seconds", "minutes", "hours", "days", "weeks", "start")


class App:
    """A rota application: tasks registered on it, a store, a clock.

    ``App()`` uses ``ROTA_STORE_URL`` or the embedded SQLite file ``./rota.db``;
    ``App("memory://")``, ``App("postgresql://...")`` or ``App(store=<Store>)`` choose another.
    ``instance_id`` (else ``ROTA_INSTANCE_ID``, else host:pid:random) names this process in
    leases; ``max_payload_bytes`` (else ``ROTA_MAX_PAYLOAD_BYTES``, else 1 MiB) bounds an
    encoded payload; ``tracing`` (else ``ROTA_TRACING``, else off) turns OpenTelemetry spans
    on (``rota[otel]``; True: the global tracer provider, or give a ``TracerProvider``).
    Everything is resolved once, here, into ``app.config``: an explicit argument beats the
    environment, which beats the default.
    """

    config: AppConfig  # what the app runs with, resolved once
    clock: Clock
    instance_id: str  # ``config.instance_id``
    tasks: dict[str, Task[Any]]  # the registered tasks by name

    def __init__(
        self,
        url: str | None = None,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        instance_id: str | None = None,
        max_payload_bytes: int | None = None,
        tracing: bool | object | None = None,
    ) -> None:
        if url is not None and store is not None:
            raise ConfigError("give a store URL or a Store, not both")
        if clock is not None and not isinstance(clock, Clock):
            raise ConfigError(f"clock must be a rota Clock, got {type(clock).__name__}")
        enabled, provider = tracing_option(tracing)
        self.config = AppConfig.resolve(
            url=url, has_store=store is not None, instance_id=instance_id,
            max_payload_bytes=max_payload_bytes, tracing=enabled,
        )  # fmt: skip
        #: the span hooks, chosen once (None: tracing is off, and OpenTelemetry is not imported)
        self._tracing: Tracing | None = build_tracing(self.config.tracing, provider)
        self._store = store
        self.clock = clock or SYSTEM_CLOCK
        self.instance_id = self.config.instance_id
        self.tasks = {}
        self._events = EventBus()
        self._declared = DeclaredSchedules()
        self._presence = Presence()  # the worker or scheduler running on this app here
        self._context: RuntimeContext | None = None
        self._opened = False
        self._open_lock: asyncio.Lock | None = None
        self._schedules = Schedules(self)

    @property
    def context(self) -> RuntimeContext:
        """What this app's runtime services run with: its store, clock, configuration, task
        registry, event bus and declared schedules (built once the store is chosen)."""
        if self._context is None:
            self._context = RuntimeContext(
                store=self.store, clock=self.clock, config=self.config, tasks=self.tasks, events=self._events,
                declared=self._declared, presence=self._presence, open=self.open, tracing=self._tracing,
            )  # fmt: skip
        return self._context

    @property
    def declared_schedules(self) -> dict[str, Schedule]:
        """The schedules declared in code (``@app.cron``, ``app.every``), by id."""
        return self._declared.schedules

    @declared_schedules.setter
    def declared_schedules(self, schedules: dict[str, Schedule]) -> None:
        self._declared.schedules = schedules

    # -- store lifecycle ---------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = store_from_url(self.config.store_url)
        return self._store

    async def open(self) -> App:
        """Connect to the store (and migrate it). Called implicitly by the first operation."""
        if self._opened:
            return self
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if not self._opened:
                await self.store.open()
                self._opened = True
        return self

    async def close(self) -> None:
        if self._opened and self._store is not None:
            await self._store.close()
        self._opened = False
        self._open_lock = None
        self._declared.forget_synced()  # upsert the declared schedules again once reopened

    def use_store(self, url: str | None = None, *, store: Store | None = None) -> None:
        """Point the app at another store before it is opened (``rota ... --store URL``).

        The same App keeps its tasks, declared schedules and event listeners, and the task
        handles it gave out enqueue into the new store."""
        if url is not None and store is not None:
            raise ConfigError("give a store URL or a Store, not both")
        if self._opened:
            raise ConfigError("the app's store is already open; choose the store before using it")
        if store is None:
            self.config = dataclasses.replace(self.config, store_url=resolve_store_url(url))
        else:
            self.config = dataclasses.replace(self.config, store_url=None)
        self._store = store
        self._context = None

    async def __aenter__(self) -> App:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- tasks -------------------------------------------------------------------------------

    @overload
    def task(self, fn: Callable[[JobContext], object], /) -> Task[None]: ...
    @overload
    def task(self, fn: Callable[[P, JobContext], object], /) -> Task[P]: ...
    @overload
    def task(self, fn: Callable[[P], object], /) -> Task[P]: ...
    @overload
    def task(self, fn: Callable[[], object], /) -> Task[None]: ...
    @overload
    def task(self, fn: None = None, /, **options: Unpack[TaskOptions]) -> TaskDecorator: ...

    def task(
        self, fn: Callable[..., object] | None = None, /, **options: Unpack[TaskOptions]
    ) -> Task[Any] | TaskDecorator:
        """Register a handler as a task: ``@app.task`` or ``@app.task(queue=..., retry=...)``
        (``TaskOptions``). The handler takes one payload parameter, or none; its annotation
        is the task's payload type.

        ``async def`` handlers run on the worker's event loop; plain ``def`` handlers in its
        thread pool.
        """

        def register(func: Callable[..., object]) -> Task[Any]:
            handle = make_task(self, func, options)
            if handle.name in self.tasks:
                raise ConfigError(f"a task named {handle.name!r} is already registered")
            self.tasks[handle.name] = handle
            return handle

        _limits.options(options, TaskOptions.__annotations__, "task")
        if fn is not None:
            return register(fn)
        return register

    def get_task(self, name: str) -> Task[Any]:
        try:
            return self.tasks[name]
        except KeyError:
            known = ", ".join(sorted(self.tasks)) or "none"
            raise TaskNotFound(f"unknown task {name!r} (registered: {known})") from None

    @property
    def queues(self) -> tuple[str, ...]:
        """The queues of the registered tasks (what a worker serves by default)."""
        return queues_of(self.tasks)

    # -- enqueueing --------------------------------------------------------------------------

    @overload
    async def enqueue(self, task: Task[P], payload: P, **options: Unpack[EnqueueOptions]) -> Job: ...
    @overload
    async def enqueue(
        self, task: Task[None], payload: None = None, **options: Unpack[EnqueueOptions]
    ) -> Job: ...
    @overload
    async def enqueue(self, task: str, payload: object = None, **options: Unpack[EnqueueOptions]) -> Job: ...

    async def enqueue(
        self, task: Task[Any] | str, payload: object = None, **options: Unpack[EnqueueOptions]
    ) -> Job:
        """Queue one job of ``task`` (a Task or a registered name); see ``Task.enqueue``."""
        handle = self.get_task(task) if isinstance(task, str) else task
        if not isinstance(handle, Task):
            raise ConfigError(f"enqueue takes a Task or a task name, got {type(task).__name__}")
        return (await self.enqueue_many([handle.prepare(payload, **options)]))[0]

    async def enqueue_many(self, specs: Iterable[JobSpec]) -> list[Job]:
        """Queue many jobs in one store round trip; returns the stored jobs in order (the
        existing job for a duplicate key)."""
        if not isinstance(specs, Iterable):
            raise ConfigError(f"enqueue_many takes a list of JobSpecs, got {type(specs).__name__}")
        specs = list(specs)
        if not specs:
            return []
        await self.open()
        now = self.clock.now()
        jobs = [job_from(spec, now, self.config.max_payload_bytes) for spec in specs]
        if self._tracing is None:
            results = await self.store.add(jobs, now=now)
        else:
            results = await traced_send(self._tracing, jobs, lambda: self.store.add(jobs, now=now))
        if self._events.wants(EventKind.ENQUEUED):
            for result in results:
                if result.created:
                    self._events.emit(Event(EventKind.ENQUEUED, result.job))
        return [r.job for r in results]

    # -- queries and admin -------------------------------------------------------------------

    async def get_job(self, job_id: str) -> Job:
        _limits.name(job_id, "job id")
        await self.open()
        job = await self.store.get_job(job_id)
        if job is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return job

    async def list_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        queue: str | None = None,
        task: str | None = None,
        limit: int = 100,
        after_id: str | None = None,
    ) -> list[Job]:
        """Jobs by id (oldest first); ``limit`` from 1 to 10,000, ``after_id`` pages on."""
        st = _limits.status(status)
        for value, what in ((queue, "queue"), (task, "task name"), (after_id, "after_id")):
            if value is not None:
                _limits.name(value, what)
        _limits.integer(limit, "limit", minimum=1, maximum=_limits.MAX_LIST_LIMIT)
        await self.open()
        flt = JobFilter(status=st, queue=queue, task=task, limit=limit, after_id=after_id)
        return await self.store.list_jobs(flt)

    async def attempts(self, job_id: str) -> list[Attempt]:
        _limits.name(job_id, "job id")
        await self.open()
        return await self.store.get_attempts(job_id)

    async def cancel(self, job_id: str) -> Job:
        _limits.name(job_id, "job id")
        await self.open()
        job = await self.store.cancel(job_id, now=self.clock.now())
        self._events.emit(Event(EventKind.CANCELLED, job))
        return job

    async def requeue(self, job_id: str) -> Job:
        _limits.name(job_id, "job id")
        await self.open()
        return await self.store.requeue(job_id, now=self.clock.now())

    async def purge(
        self,
        *,
        older_than: float | timedelta,
        statuses: Iterable[JobStatus | str] | None = None,
        batch: int = 1000,
    ) -> int:
        """Delete finished jobs (and their history) that finished more than ``older_than``
        ago, only those with a status in ``statuses`` when given (succeeded, failed,
        cancelled); in batches of ``batch``, so claims are never held up. Returns how many."""
        age = _limits.duration(older_than, "older_than")
        _limits.integer(batch, "batch", minimum=1, maximum=_limits.MAX_LIST_LIMIT)
        wanted = None if statuses is None else _limits.finished_statuses(statuses)
        await self.open()
        cutoff = self.clock.now() - timedelta(seconds=age)
        total = 0
        while True:
            removed = await self.store.purge(finished_before=cutoff, limit=batch, statuses=wanted)
            total += removed
            if removed < batch:
                return total

    async def stats(self) -> QueueStats:
        await self.open()
        return await self.store.stats()

    async def workers(self) -> list[WorkerInfo]:
        """The live workers of this app's store, by id: every worker (in any process) that
        registered itself and refreshed its entry within its ttl (see ``WorkerInfo``)."""
        await self.open()
        return await self.store.list_workers(now=self.clock.now())

    # -- events ------------------------------------------------------------------------------

    def on(self, kinds: EventKind | Iterable[EventKind] | None, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for events of ``kinds`` (None: all). Returns an unsubscribe."""
        if kinds is None:
            selected = None
        elif isinstance(kinds, EventKind):
            selected = frozenset({kinds})
        else:
            selected = frozenset(kinds)
        return self._events.subscribe(listener, selected)

    async def wait_until_idle(
        self, timeout: float | None = None, *, queues: Iterable[str] | None = None
    ) -> None:
        """Wait until no job is running and none is due now in ``queues`` (default: the app's).

        Raises ``TimeoutError`` after ``timeout`` real seconds. Delayed jobs not yet due do not
        count: with a fake clock, advance it to make them due.
        """
        if timeout is not None:
            _limits.duration(timeout, "timeout")
        if isinstance(queues, str) or (queues is not None and not isinstance(queues, Iterable)):
            raise ConfigError(f"queues must be a list of names, got {type(queues).__name__}")
        names = tuple(queues) if queues is not None else self.queues
        for queue in names:
            _limits.name(queue, "queue")
        await wait_until_idle(self.context, names, timeout)

    # -- schedules ---------------------------------------------------------------------------

    @property
    def schedules(self) -> Schedules:
        """Add, inspect, pause, resume, remove and trigger schedules in the store. The first
        use after opening upserts the schedules declared in code (unchanged ones: no write)."""
        return self._schedules

    def cron(self, expr: str, *, tz: str = "UTC", id: str | None = None, **options: Any) -> TaskDecorator:
        """Declare a cron schedule in code: ``@app.cron("0 2 * * *", tz="Europe/Berlin")``.

        Decorates a function (registered as a task with ``options`` such as ``queue``,
        ``retry``, ``timeout``) or an existing task. Schedule options: ``payload``,
        ``misfire``, ``misfire_grace``, ``max_catchup``, ``jitter``, ``overlap``. Declared
        schedules are upserted, keeping their state, when the app first uses
        ``app.schedules`` and when a scheduler starts.
        """
        return self._declare(Cron(expr, tz), id, options)

    def every(
        self, period: timedelta | float | None = None, *, id: str | None = None, **options: Any
    ) -> TaskDecorator:
        """Declare an interval schedule in code: ``@app.every(minutes=15)``; the period as for
        ``Every`` (``seconds``, ``minutes``, ``hours``, ``days``, ``weeks``, ``start``), the
        other options as for ``cron``."""
        units = {k: options.pop(k) for k in _EVERY_OPTIONS if k in options}
        return self._declare(Every(period, **units), id, options)

    _SCHEDULE_OPTIONS = frozenset({"payload", "misfire", "misfire_grace", "max_catchup", "jitter", "overlap"})

    def _declare(self, trigger: Trigger, schedule_id: str | None, options: dict[str, Any]) -> TaskDecorator:
        schedule_options = {k: v for k, v in options.items() if k in self._SCHEDULE_OPTIONS}
        task_options = {k: v for k, v in options.items() if k not in self._SCHEDULE_OPTIONS}

        def register(fn: Callable[..., object]) -> Task[Any]:
            task = fn if isinstance(fn, Task) else self.task(**task_options)(fn)
            sid = schedule_id or task.name
            self._declared.declare(
                build_schedule(self, sid, task=task, trigger=trigger, origin="code", **schedule_options)
            )
            return task

        return register

    def scheduler(self, **options: Any) -> Scheduler:
        """A Scheduler for this app (``rota scheduler`` runs one alone); see ``Scheduler``."""
        return Scheduler(self.context, **options)

    # -- coordination ------------------------------------------------------------------------

    def leader_election(
        self, *, name: str = DEFAULT_ELECTION, **timing: Unpack[LeaseOptions]
    ) -> LeaderElection:
        """A LeaderElection on this app's store as this instance (see docs/coordination.md),
        its lease timed by ``LeaseOptions``: ``ttl``, ``renew_interval``, ``retry_interval``,
        ``safety_margin``."""
        return LeaderElection.of(self.context, name=name, **timing)

    def lock(
        self, name: str, *, timeout: float | timedelta | None = None, **timing: Unpack[LeaseOptions]
    ) -> Lock:
        """A distributed lock: ``async with app.lock("reports:daily", ttl=30) as lock``;
        ``lock.fence`` guards writes; losing the lock cancels the block with ``LockLost``.
        ``timeout``: how long to wait for it (None: forever); ``LeaseOptions`` time its lease."""
        return Lock.of(self.context, name, timeout=timeout, **timing)

    async def health(
        self, election: LeaderElection | None = None, *, settings: LeaderSettings | None = None
    ) -> Health:
        """The worker or scheduler running on this app here (its election, whether it executes
        jobs and fires schedules), the current leader, the queues' depths, tasks and
        schedules; see ``Health``. ``election`` and ``settings`` instead describe an instance
        with that election and those settings, as a worker with them would behave."""
        return await health(self.context, election=election, settings=settings)

    # -- workers -----------------------------------------------------------------------------

    def worker(self, **settings: Any) -> Worker:
        """A Worker for this app; see ``WorkerSettings`` for the settings."""
        checked = WorkerSettings(**settings)
        return Worker(self.context, checked)
