"""The schedules an app declares in code (``@app.cron``, ``app.every``), kept in step with the
store.

They are upserted the first time ``app.schedules`` is used after the app opens, and in full
whenever a scheduler starts (``sync``). Upserting an unchanged definition writes nothing, so
any number of instances declaring the same schedule never fight and never reset its state
(run counts, pause flag).
"""

from __future__ import annotations

from rota._clock import Clock
from rota._errors import ConfigError
from rota._models import Schedule
from rota.stores.base import Store
from rota.triggers import load_trigger


class DeclaredSchedules:
    """An app's declared schedules by id, and which of them this opening of the app upserted."""

    def __init__(self) -> None:
        self.schedules: dict[str, Schedule] = {}
        self._synced: set[str] = set()

    def declare(self, schedule: Schedule) -> None:
        if schedule.id in self.schedules:
            raise ConfigError(f"a schedule with id {schedule.id!r} is already declared")
        self.schedules[schedule.id] = schedule

    def forget_synced(self) -> None:
        """The app closed: upsert them again once it is reopened (the store may be another)."""
        self._synced.clear()

    async def upsert(self, store: Store, clock: Clock, *, everything: bool = False) -> None:
        """Upsert those not upserted through this opening yet (``everything``: all of them),
        each with its first fire after now."""
        now = clock.now()
        for sid, schedule in list(self.schedules.items()):
            if sid in self._synced and not everything:
                continue
            first = load_trigger(schedule.trigger).first_fire(now)
            fresh = schedule.replace(next_fire_at=first, created_at=now, updated_at=now)
            await store.put_schedule(fresh, now=now)
            self._synced.add(sid)

    async def sync(self, store: Store, clock: Clock, *, prune: bool = False) -> list[str]:
        """Upsert every declared schedule; with ``prune``, remove the schedules declared in code
        earlier but not any more. Returns the ids removed."""
        await self.upsert(store, clock, everything=True)
        removed: list[str] = []
        if prune:
            for existing in await store.list_schedules():
                if existing.origin == "code" and existing.id not in self.schedules:
                    await store.remove_schedule(existing.id)
                    removed.append(existing.id)
        return removed
