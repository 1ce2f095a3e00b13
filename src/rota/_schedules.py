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
from typing import TYPE_CHECKING, Any

from rota import _limits
from rota._errors import ConfigError, InvalidTrigger, ScheduleNotFound
from rota._models import Job, MisfirePolicy, OverlapPolicy, Schedule
from rota._task import Task
from rota.runtime.firing import schedule_job
from rota.triggers import At, Cron, Trigger, load_trigger

if TYPE_CHECKING:
    from rota._app import App


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


def build_schedule(
    app: App,
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
    """The schedules of an app's store (``app.schedules``); one per opening of the app."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._synced: set[str] = set()  # declared ids upserted through this opening

    async def _open(self) -> None:
        """Open the app and upsert the declared schedules not yet upserted."""
        await self.app.open()
        if self._synced.issuperset(self.app.declared_schedules):
            return
        await self._upsert_declared()

    async def add(
        self, schedule_id: str, *, task: Task[Any] | str, trigger: Trigger, **options: Any
    ) -> ScheduleInfo:
        """Create the schedule, or update its definition keeping its state (counts, pause).

        Options: ``payload``, ``queue``, ``priority``, ``misfire`` (skip | run_once | run_all),
        ``misfire_grace`` (s), ``max_catchup``, ``jitter`` (s), ``overlap`` (allow | skip).
        """
        schedule = build_schedule(self.app, schedule_id, task=task, trigger=trigger, **options)
        return await self._put(schedule)

    async def _put(self, schedule: Schedule) -> ScheduleInfo:
        await self._open()
        stored = await self.app.store.put_schedule(schedule, now=self.app.clock.now())
        return ScheduleInfo.of(stored)

    async def get(self, schedule_id: str) -> ScheduleInfo:
        _limits.name(schedule_id, "schedule id")
        await self._open()
        schedule = await self.app.store.get_schedule(schedule_id)
        if schedule is None:
            raise ScheduleNotFound(f"no schedule with id {schedule_id!r}")
        return ScheduleInfo.of(schedule)

    async def list(self) -> list[ScheduleInfo]:
        await self._open()
        return [ScheduleInfo.of(s) for s in await self.app.store.list_schedules()]

    async def pause(self, schedule_id: str) -> ScheduleInfo:
        _limits.name(schedule_id, "schedule id")
        await self._open()
        now = self.app.clock.now()
        stored = await self.app.store.set_schedule_paused(schedule_id, True, next_fire_at=None, now=now)
        return ScheduleInfo.of(stored)

    async def resume(self, schedule_id: str) -> ScheduleInfo:
        """Resume; fires missed while paused are not made up (the next fire is after now)."""
        info = await self.get(schedule_id)
        now = self.app.clock.now()
        trigger = info.trigger
        if isinstance(trigger, At) and info.last_fire_at is None:
            next_fire = trigger.first_fire(now)  # a one-time schedule that never fired still owes its run
        else:
            next_fire = trigger.next_fire(now)
        stored = await self.app.store.set_schedule_paused(schedule_id, False, next_fire_at=next_fire, now=now)
        return ScheduleInfo.of(stored)

    async def remove(self, schedule_id: str) -> bool:
        """Delete the schedule (its jobs stay). A schedule still declared in code comes back
        the next time a process declaring it opens: remove it from the code (and start a
        scheduler with ``--prune``) to retire it for good."""
        _limits.name(schedule_id, "schedule id")
        await self._open()
        return await self.app.store.remove_schedule(schedule_id)

    async def trigger_now(self, schedule_id: str) -> Job:
        """Queue one job for the schedule now, outside its trigger (its fires are unaffected)."""
        info = await self.get(schedule_id)
        record = info.record
        now = self.app.clock.now()
        job = schedule_job(record, self.app.tasks.get(record.task), now=now, due=now, fire=None)
        [result] = await self.app.store.add([job], now=now)
        return result.job

    async def sync_declared(self, *, prune: bool = False) -> builtins.list[str]:
        """Upsert the schedules declared in code (``@app.cron``, ``app.every``).

        Unchanged definitions write nothing, so any number of instances can do this at start-up;
        state (run counts, pause flag) is kept. With ``prune``, schedules declared in code
        earlier but not any more are removed. Returns the ids removed. (Any use of
        ``app.schedules`` upserts them too, without pruning; a scheduler calls this.)
        """
        await self.app.open()
        await self._upsert_declared(everything=True)
        removed: builtins.list[str] = []
        if prune:
            for existing in await self.app.store.list_schedules():
                if existing.origin == "code" and existing.id not in self.app.declared_schedules:
                    await self.app.store.remove_schedule(existing.id)
                    removed.append(existing.id)
        return removed

    async def _upsert_declared(self, *, everything: bool = False) -> None:
        now = self.app.clock.now()
        for sid, schedule in builtins.list(self.app.declared_schedules.items()):
            if sid in self._synced and not everything:
                continue
            first = load_trigger(schedule.trigger).first_fire(now)
            fresh = schedule.replace(next_fire_at=first, created_at=now, updated_at=now)
            await self.app.store.put_schedule(fresh, now=now)
            self._synced.add(sid)
