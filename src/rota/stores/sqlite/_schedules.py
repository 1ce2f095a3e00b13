"""Schedule and named-lease operations, run on the store's thread."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from rota._errors import ScheduleNotFound
from rota._models import Fence, FireCommit, Lease, Schedule
from rota.stores.sqlite._conn import write
from rota.stores.sqlite._jobs import fence_held, insert_jobs
from rota.stores.sqlite._rows import (
    job_params,
    lease_from_row,
    opt_dt,
    opt_us,
    schedule_from_row,
    schedule_params,
    to_us,
)
from rota.stores.sqlite._sql import queries

S = queries("schedules")


def put_schedule(conn: sqlite3.Connection, schedule: Schedule, now: datetime) -> Schedule:
    params = schedule_params(schedule, version=1, now=now)
    with write(conn):
        row = conn.execute(S["get_schedule"], (schedule.id,)).fetchone()
        if row is None:
            conn.execute(S["insert_schedule"], params)
            row = conn.execute(S["get_schedule"], (schedule.id,)).fetchone()
            return schedule_from_row(row)
        current = schedule_from_row(row)
        if current.same_definition(schedule):
            return current
        args = dict(
            zip(
                ("id", "task", "trigger", "queue", "payload", "priority", "misfire",
                 "misfire_grace", "max_catchup", "jitter", "overlap", "origin"),
                params[:12],
                strict=True,
            )
        )  # fmt: skip
        args |= {
            "trigger_changed": current.trigger != schedule.trigger,
            "next_fire_at": opt_us(schedule.next_fire_at),
            "now": to_us(now),
        }
        row = conn.execute(S["update_definition"], args).fetchone()
    return schedule_from_row(row)


def get_schedule(conn: sqlite3.Connection, schedule_id: str) -> Schedule | None:
    row = conn.execute(S["get_schedule"], (schedule_id,)).fetchone()
    return None if row is None else schedule_from_row(row)


def list_schedules(conn: sqlite3.Connection) -> list[Schedule]:
    return [schedule_from_row(r) for r in conn.execute(S["list_schedules"])]


def remove_schedule(conn: sqlite3.Connection, schedule_id: str) -> bool:
    with write(conn):
        return conn.execute(S["remove_schedule"], (schedule_id,)).rowcount > 0


def set_paused(
    conn: sqlite3.Connection,
    schedule_id: str,
    paused: bool,
    next_fire_at: datetime | None,
    now: datetime,
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
    return schedule_from_row(row)


def acquire(
    conn: sqlite3.Connection,
    owner: str,
    limit: int,
    lease_for: timedelta,
    now: datetime,
    *,
    fence: Fence | None,
) -> list[Schedule]:
    if limit <= 0:
        return []
    now_us = to_us(now)
    args = {
        "owner": owner,
        "expires": to_us(now + lease_for),
        "now": now_us,
        "limit": limit,
        "fence_name": fence.name if fence is not None else None,
        "fence_token": fence.token if fence is not None else None,
    }
    with write(conn):
        if fence is not None and not fence_held(conn, fence, now_us):
            return []
        rows = conn.execute(S["acquire_schedules"], args).fetchall()
    found = [schedule_from_row(r) for r in rows]
    found.sort(key=lambda s: (s.next_fire_at, s.id))
    return found


def commit_fires(conn: sqlite3.Connection, commit: FireCommit, now: datetime) -> tuple[bool, int]:
    """Returns (applied, jobs created)."""
    now_us = to_us(now)
    params = [job_params(j) for j in commit.jobs]
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


def next_schedule_due(conn: sqlite3.Connection) -> datetime | None:
    row = conn.execute(S["next_schedule_due"]).fetchone()
    return None if row is None else opt_dt(row[0])


# -- named leases ----------------------------------------------------------------------


def acquire_lease(
    conn: sqlite3.Connection, name: str, owner: str, ttl: timedelta, now: datetime
) -> Lease | None:
    args = {"name": name, "owner": owner, "now": to_us(now), "expires": to_us(now + ttl)}
    with write(conn):
        row = conn.execute(S["acquire_lease"], args).fetchone()
    return None if row is None else lease_from_row(row)


def renew_lease(
    conn: sqlite3.Connection, *, name: str, owner: str, token: int, ttl: timedelta, now: datetime
) -> Lease | None:
    args = {
        "name": name,
        "owner": owner,
        "token": token,
        "now": to_us(now),
        "expires": to_us(now + ttl),
    }
    with write(conn):
        row = conn.execute(S["renew_lease"], args).fetchone()
    return None if row is None else lease_from_row(row)


def release_lease(conn: sqlite3.Connection, name: str, owner: str, token: int, now: datetime) -> bool:
    args = {"name": name, "owner": owner, "token": token, "now": to_us(now)}
    with write(conn):
        return conn.execute(S["release_lease"], args).rowcount > 0


def get_lease(conn: sqlite3.Connection, name: str, now: datetime) -> Lease | None:
    row = conn.execute(S["get_lease"], (name, to_us(now))).fetchone()
    return None if row is None else lease_from_row(row)
