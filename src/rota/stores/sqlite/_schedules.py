"""Schedules on SQLite: ``SQLiteSchedules`` runs each operation below on the store's thread."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from rota._errors import ScheduleNotFound
from rota._models import Fence, FireCommit, Schedule
from rota.stores._parts import SchedulesPart
from rota.stores._resources import queries
from rota.stores.sqlite._codec import JOBS, SCHEDULES, from_us, opt_us, to_us
from rota.stores.sqlite._connection import SQLiteConnection, write
from rota.stores.sqlite._jobs import insert_jobs
from rota.stores.sqlite._leases import fence_held

S = queries(__name__.rpartition(".")[0], "schedules")
_DEFINITION = SCHEDULES.row_encoder(("id", *Schedule.DEFINITION_FIELDS))


def put(conn: sqlite3.Connection, schedule: Schedule, now: datetime) -> tuple[Schedule, bool]:
    fresh = schedule.replace(
        version=1, created_at=schedule.created_at or now, updated_at=now, lease_fence_name=None,
        lease_fence_token=None,
    )  # fmt: skip
    params = SCHEDULES.to_row(fresh)
    with write(conn):
        row = conn.execute(S["get_schedule"], (schedule.id,)).fetchone()
        if row is None:
            conn.execute(S["insert_schedule"], params)
            row = conn.execute(S["get_schedule"], (schedule.id,)).fetchone()
            return SCHEDULES.from_row(row), True
        current = SCHEDULES.from_row(row)
        if current.same_definition(schedule):
            return current, False
        args = dict(zip(("id", *Schedule.DEFINITION_FIELDS), _DEFINITION(schedule), strict=True))
        args |= {
            "trigger_changed": current.trigger != schedule.trigger,
            "next_fire_at": opt_us(schedule.next_fire_at),
            "now": to_us(now),
        }
        row = conn.execute(S["update_definition"], args).fetchone()
    return SCHEDULES.from_row(row), True


def get(conn: sqlite3.Connection, schedule_id: str) -> Schedule | None:
    row = conn.execute(S["get_schedule"], (schedule_id,)).fetchone()
    return None if row is None else SCHEDULES.from_row(row)


def all_schedules(conn: sqlite3.Connection) -> list[Schedule]:
    return [SCHEDULES.from_row(r) for r in conn.execute(S["list_schedules"])]


def remove(conn: sqlite3.Connection, schedule_id: str) -> bool:
    with write(conn):
        return conn.execute(S["remove_schedule"], (schedule_id,)).rowcount > 0


def set_paused(
    conn: sqlite3.Connection, schedule_id: str, paused: bool, next_fire_at: datetime | None, now: datetime
) -> Schedule:
    args = {
        "id": schedule_id,
        "paused": int(paused),
        "replace_next": not paused and next_fire_at is not None,
        "next_fire_at": opt_us(next_fire_at),
        "now": to_us(now),
    }
    with write(conn):
        row = conn.execute(S["set_paused"], args).fetchone()
    if row is None:
        raise ScheduleNotFound(f"no schedule {schedule_id!r}")
    return SCHEDULES.from_row(row)


def acquire(
    conn: sqlite3.Connection, owner: str, limit: int, *, until: datetime, now: datetime, fence: Fence | None
) -> list[Schedule]:
    now_us = to_us(now)
    args = {
        "owner": owner,
        "expires": to_us(until),
        "now": now_us,
        "limit": limit,
        "fence_name": fence.name if fence is not None else None,
        "fence_token": fence.token if fence is not None else None,
    }
    with write(conn):
        if fence is not None and not fence_held(conn, fence, now_us):
            return []
        rows = conn.execute(S["acquire_schedules"], args).fetchall()
    found = [SCHEDULES.from_row(r) for r in rows]
    found.sort(key=lambda s: (s.next_fire_at, s.id))
    return found


def commit_fires(conn: sqlite3.Connection, commit: FireCommit, now: datetime) -> tuple[bool, int]:
    now_us = to_us(now)
    params = [JOBS.to_row(j) for j in commit.jobs]
    check = {"id": commit.schedule_id, "version": commit.version, "owner": commit.owner}
    with write(conn):
        if conn.execute(S["commit_check"], check).fetchone() is None:
            return False, 0
        if commit.fence is not None and not fence_held(conn, commit.fence, now_us):
            return False, 0
        results = insert_jobs(conn, commit.jobs, params)
        created = sum(1 for r in results if r.created)
        conn.execute(
            S["commit_fires"],
            {
                "id": commit.schedule_id,
                "next_fire_at": opt_us(commit.next_fire_at),
                "last_fire_at": opt_us(commit.last_fire_at),
                "created": created,
                "last_job_id": results[-1].job.id if results else None,
                "now": now_us,
            },
        )
    return True, created


def next_due(conn: sqlite3.Connection) -> datetime | None:
    row = conn.execute(S["next_schedule_due"]).fetchone()
    return None if row is None or row[0] is None else from_us(row[0])


class SQLiteSchedules(SchedulesPart):
    def __init__(self, db: SQLiteConnection) -> None:
        self._db = db

    async def put(self, schedule: Schedule, now: datetime) -> tuple[Schedule, bool]:
        return await self._db.run(put, schedule, now)

    async def get(self, schedule_id: str) -> Schedule | None:
        return await self._db.run(get, schedule_id)

    async def all(self) -> list[Schedule]:
        return await self._db.run(all_schedules)

    async def remove(self, schedule_id: str) -> bool:
        return await self._db.run(remove, schedule_id)

    async def set_paused(
        self, schedule_id: str, paused: bool, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        return await self._db.run(set_paused, schedule_id, paused, next_fire_at, now)

    async def acquire(
        self, owner: str, limit: int, until: datetime, now: datetime, fence: Fence | None
    ) -> list[Schedule]:
        return await self._db.run(acquire, owner, limit, until=until, now=now, fence=fence)

    async def commit(self, commit: FireCommit, now: datetime) -> tuple[bool, int]:
        return await self._db.run(commit_fires, commit, now)

    async def next_due(self) -> datetime | None:
        return await self._db.run(next_due)
