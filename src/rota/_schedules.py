"""``app.schedules``: add, inspect, pause, resume, remove and trigger recurring schedules.

The schedules declared in code (``@app.cron``, ``app.every``) are upserted into the store the
first time ``app.schedules`` is used after the app opens (and when a scheduler starts), so
``app.schedules.pause("nightly")`` works in any process that declares them, with or without a
scheduler running anywhere. Upserting an unchanged definition writes nothing, so instances
declaring the same schedule never fight and never reset its state (run counts, pause).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from rota import _limits
from rota._clock import Clock
from rota._errors import ConfigError, InvalidTrigger, ScheduleNotFound
from rota._models import Job, MisfirePolicy, OverlapPolicy, Schedule
from rota._task import Task
from rota.runtime.context import RuntimeContext
from rota.runtime.firing import schedule_job
from rota.triggers import At, Cron, Trigger, load_trigger


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """A schedule as users see it: its definition, parsed trigger and firing state."""

    id: str
    task: str
    trigger: Trigger
    queue: str
    paused: bool
    next_fire_at: datetime | None
    last_fire_at: datetime | None
    run_count: int
    fail_count: int
    last_error: str | None
    misfire: MisfirePolicy
    overlap: OverlapPolicy
    origin: str
    record: Schedule

    @classmethod
    def of(cls, s: Schedule) -> ScheduleInfo:
        return cls(
            id=s.id, task=s.task, trigger=load_trigger(s.trigger), queue=s.queue, paused=s.paused,
            next_fire_at=s.next_fire_at, last_fire_at=s.last_fire_at, run_count=s.run_count,
            fail_count=s.fail_count, last_error=s.last_error, misfire=MisfirePolicy(s.misfire),
            overlap=OverlapPolicy(s.overlap), origin=s.origin, record=s,
        )  # fmt: skip

    @property
    def zone(self) -> Any:
        """The zone to show fire times in: the cron's zone, else UTC."""
        return self.trigger.tz if isinstance(self.trigger, Cron) else None


class ScheduleOwner(Protocol):
    """What ``app.schedules`` needs of its App (``App`` is one)."""

    @property
    def clock(self) -> Clock: ...
    @property
    def context(self) -> RuntimeContext: ...

    def get_task(self, name: str) -> Task[Any]: ...


def build_schedule(
    app: ScheduleOwner,
    schedule_id: str,
    *,
    task: Task[Any] | str,
    trigger: Trigger,
    payload: Any = None,
    queue: str | None = None,
    priority: int | None = None,
    misfire: MisfirePolicy | str = MisfirePolicy.RUN_ONCE,
    misfire_grace: float | timedelta = 60.0,
    max_catchup: int = 100,
    jitter: float | timedelta = 0.0,
    overlap: OverlapPolicy | str = OverlapPolicy.ALLOW,
    origin: str = "api",
) -> Schedule:
    """Validate a schedule definition (everything a user can get wrong fails here)."""
    _limits.name(schedule_id, "schedule id")
    handle = app.get_task(task) if isinstance(task, str) else task
    if not isinstance(trigger, Trigger):
        raise InvalidTrigger(f"trigger must be rota.Cron, rota.Every or rota.At, got {trigger!r}")
    try:
        misfire_policy = MisfirePolicy(misfire)
        overlap_policy = OverlapPolicy(overlap)
    except ValueError as exc:
        raise ConfigError(f"invalid schedule policy: {exc}") from None
    grace = _limits.duration(misfire_grace, "misfire_grace")
    spread = _limits.duration(jitter, "jitter")
    _limits.integer(max_catchup, "max_catchup", minimum=1, maximum=_limits.MAX_LIST_LIMIT)
    priority = None if priority is None else _limits.priority(priority)
    queue = None if queue is None else _limits.name(queue, "queue")
    now = app.clock.now()
    return Schedule(
        id=schedule_id, task=handle.name, trigger=trigger.dumps(), queue=queue or handle.queue,
        payload=handle.encode(payload), priority=handle.priority if priority is None else priority,
        misfire=misfire_policy, misfire_grace=grace, max_catchup=max_catchup, jitter=spread,
        overlap=overlap_policy, origin=origin, next_fire_at=trigger.first_fire(now),
        created_at=now, updated_at=now,
    )  # fmt: skip


class Schedules:
    """The schedules of an app's store (``app.schedules``)."""

    def __init__(self, app: ScheduleOwner) -> None:
        self.app = app

    async def _open(self) -> RuntimeContext:
        """Open the app and upsert the declared schedules not yet upserted; the app's context."""
        context = self.app.context
        await context.open()
        await context.declared.upsert(context.store, context.clock)
        return context

    async def add(
        self, schedule_id: str, *, task: Task[Any] | str, trigger: Trigger, **options: Any
    ) -> ScheduleInfo:
        """Create the schedule, or update its definition keeping its state (counts, pause).

        Options: ``payload``, ``queue``, ``priority``, ``misfire`` (skip | run_once | run_all),
        ``misfire_grace`` (s), ``max_catchup``, ``jitter`` (s), ``overlap`` (allow | skip).
        """
        schedule = build_schedule(self.app, schedule_id, task=task, trigger=trigger, **options)
        context = await self._open()
        return ScheduleInfo.of(await context.store.put_schedule(schedule, now=context.clock.now()))

    async def get(self, schedule_id: str) -> ScheduleInfo:
        _limits.name(schedule_id, "schedule id")
        context = await self._open()
        schedule = await context.store.get_schedule(schedule_id)
        if schedule is None:
            raise ScheduleNotFound(f"no schedule with id {schedule_id!r}")
        return ScheduleInfo.of(schedule)

    async def list(self) -> list[ScheduleInfo]:
        context = await self._open()
        return [ScheduleInfo.of(s) for s in await context.store.list_schedules()]

    async def pause(self, schedule_id: str) -> ScheduleInfo:
        _limits.name(schedule_id, "schedule id")
        context = await self._open()
        now = context.clock.now()
        stored = await context.store.set_schedule_paused(schedule_id, True, next_fire_at=None, now=now)
        return ScheduleInfo.of(stored)

    async def resume(self, schedule_id: str) -> ScheduleInfo:
        """Resume; fires missed while paused are not made up (the next fire is after now)."""
        info = await self.get(schedule_id)
        context = self.app.context
        now = context.clock.now()
        trigger = info.trigger
        if isinstance(trigger, At) and info.last_fire_at is None:
            next_fire = trigger.first_fire(now)  # a one-time schedule that never fired still owes its run
        else:
            next_fire = trigger.next_fire(now)
        stored = await context.store.set_schedule_paused(schedule_id, False, next_fire_at=next_fire, now=now)
        return ScheduleInfo.of(stored)

    async def remove(self, schedule_id: str) -> bool:
        """Delete the schedule (its jobs stay). A schedule still declared in code comes back
        the next time a process declaring it opens: remove it from the code (and start a
        scheduler with ``--prune``) to retire it for good."""
        _limits.name(schedule_id, "schedule id")
        context = await self._open()
        return await context.store.remove_schedule(schedule_id)

    async def trigger_now(self, schedule_id: str) -> Job:
        """Queue one job for the schedule now, outside its trigger (its fires are unaffected)."""
        info = await self.get(schedule_id)
        record, context = info.record, self.app.context
        now = context.clock.now()
        job = schedule_job(record, context.tasks.get(record.task), now=now, due=now, fire=None)
        [result] = await context.store.add([job], now=now)
        return result.job

    async def sync_declared(self, *, prune: bool = False) -> builtins.list[str]:
        """Upsert the schedules declared in code (``@app.cron``, ``app.every``).

        Unchanged definitions write nothing, so any number of instances can do this at start-up;
        state (run counts, pause flag) is kept. With ``prune``, schedules declared in code
        earlier but not any more are removed. Returns the ids removed. (Any use of
        ``app.schedules`` upserts them too, without pruning; a scheduler does this.)
        """
        context = self.app.context
        await context.open()
        return await context.declared.sync(context.store, context.clock, prune=prune)
