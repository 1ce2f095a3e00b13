"""Schedules on PostgreSQL, from queries/schedules.sql."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from rota._errors import ScheduleNotFound
from rota._models import Fence, FireCommit, Schedule
from rota.stores._parts import SchedulesPart
from rota.stores._resources import queries
from rota.stores.postgres._codec import SCHEDULE_WIDTH, SCHEDULES
from rota.stores.postgres._connection import PostgresConnection
from rota.stores.postgres._jobs import PostgresJobs
from rota.stores.postgres._leases import lock_fence

S = queries(__name__.rpartition(".")[0], "schedules")
_DEFINITION = SCHEDULES.row_encoder(("id", *Schedule.DEFINITION_FIELDS))


def _schedule(row: asyncpg.Record) -> Schedule:
    return SCHEDULES.from_row(row[:SCHEDULE_WIDTH])


class PostgresSchedules(SchedulesPart):
    """Schedules; a commit adds its jobs through ``jobs`` in the commit's transaction."""

    def __init__(self, db: PostgresConnection, jobs: PostgresJobs) -> None:
        self._db = db
        self._jobs = jobs

    async def put(self, schedule: Schedule, now: datetime) -> tuple[Schedule, bool]:
        s = schedule
        fresh = s.replace(
            version=1, lease_owner=None, lease_expires_at=None, created_at=s.created_at or now,
            updated_at=now, lease_fence_name=None, lease_fence_token=None,
        )  # fmt: skip
        async with self._db.tx() as conn:
            while True:
                row = await conn.fetchrow(S["get_schedule_for_update"], s.id)
                if row is None:
                    row = await conn.fetchrow(S["insert_schedule"], *SCHEDULES.to_row(fresh))
                    if row is None:  # created concurrently: lock it and compare
                        continue
                    break
                current = _schedule(row)
                if current.same_definition(s):
                    return current, False
                row = await conn.fetchrow(
                    S["update_schedule_definition"], *_DEFINITION(s), s.next_fire_at, now
                )
                break
            assert row is not None
            await conn.execute(S["notify"], self._db.schedules_channel)
        return _schedule(row), True

    async def get(self, schedule_id: str) -> Schedule | None:
        row = await self._db.fetchrow(S["get_schedule"], schedule_id)
        return _schedule(row) if row is not None else None

    async def all(self) -> list[Schedule]:
        return [_schedule(r) for r in await self._db.fetch(S["list_schedules"])]

    async def remove(self, schedule_id: str) -> bool:
        row = await self._db.fetchrow(S["remove_schedule"], schedule_id, self._db.schedules_channel)
        return row is not None and int(row["n"]) > 0

    async def set_paused(
        self, schedule_id: str, paused: bool, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        row = await self._db.fetchrow(
            S["set_schedule_paused"], schedule_id, paused, next_fire_at, now, self._db.schedules_channel
        )
        if row is None:
            raise ScheduleNotFound(schedule_id)
        return _schedule(row)

    async def acquire(
        self, owner: str, limit: int, until: datetime, now: datetime, fence: Fence | None
    ) -> list[Schedule]:
        rows = await self._db.fetch(
            S["acquire_schedules"], owner, limit, now, until,
            *((fence.name, fence.owner, fence.token) if fence is not None else (None, None, None)),
        )  # fmt: skip
        found = [_schedule(r) for r in rows]
        found.sort(key=lambda s: (s.next_fire_at or now, s.id))
        return found

    async def commit(self, commit: FireCommit, now: datetime) -> tuple[bool, int]:
        async with self._db.tx() as conn:
            locked = await conn.fetchval(
                S["lock_schedule_for_commit"], commit.schedule_id, commit.version, commit.owner
            )
            if locked is None:
                return False, 0
            if commit.fence is not None and not await lock_fence(conn, commit.fence, now):
                return False, 0
            results = await self._jobs.insert(conn, commit.jobs, now) if commit.jobs else []
            created = sum(1 for r in results if r.created)
            await conn.execute(
                S["commit_schedule"],
                commit.schedule_id,
                commit.next_fire_at,
                commit.last_fire_at,
                created,
                results[-1].job.id if results else None,
                now,
            )
        return True, created

    async def next_due(self) -> datetime | None:
        value: datetime | None = await self._db.fetchval(S["next_schedule_due"])
        return value
