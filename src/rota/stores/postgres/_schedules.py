"""Schedules and named leases on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from rota._errors import ScheduleNotFound
from rota._models import Fence, FireCommit, Lease, Schedule
from rota.stores.postgres._jobs import JobsMixin, check_new_jobs
from rota.stores.postgres._rows import lease_from_row, schedule_from_row
from rota.stores.postgres._sql import query


class SchedulesMixin(JobsMixin):
    async def put_schedule(self, schedule: Schedule, *, now: datetime) -> Schedule:
        s = schedule
        async with self._tx() as conn:
            while True:
                row = await conn.fetchrow(query("get_schedule_for_update"), s.id)
                if row is None:
                    row = await conn.fetchrow(
                        query("insert_schedule"),
                        s.id, s.task, s.trigger, s.queue, s.payload, s.priority,
                        s.misfire.value, s.misfire_grace, s.max_catchup, s.jitter,
                        s.overlap.value, s.origin, s.next_fire_at, s.last_fire_at,
                        s.last_job_id, s.run_count, s.fail_count, s.last_error, s.paused,
                        s.created_at or now, now,
                    )  # fmt: skip
                    if row is None:  # created concurrently: lock it and compare
                        continue
                    break
                current = schedule_from_row(row)
                if current.same_definition(s):
                    return current
                row = await conn.fetchrow(
                    query("update_schedule_definition"),
                    s.id, s.task, s.trigger, s.queue, s.payload, s.priority,
                    s.misfire.value, s.misfire_grace, s.max_catchup, s.jitter,
                    s.overlap.value, s.origin, s.next_fire_at, now,
                )  # fmt: skip
                break
            assert row is not None
            await conn.execute(query("notify"), self.schedules_channel)
        self.notify_schedules()
        return schedule_from_row(row)

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        row = await self._fetchrow("get_schedule", schedule_id)
        return schedule_from_row(row) if row is not None else None

    async def list_schedules(self) -> list[Schedule]:
        return [schedule_from_row(r) for r in await self._fetch("list_schedules")]

    async def remove_schedule(self, schedule_id: str) -> bool:
        row = await self._fetchrow("remove_schedule", schedule_id, self.schedules_channel)
        return row is not None and int(row["n"]) > 0

    async def set_schedule_paused(
        self, schedule_id: str, paused: bool, *, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        row = await self._fetchrow(
            "set_schedule_paused", schedule_id, paused, next_fire_at, now, self.schedules_channel
        )
        if row is None:
            raise ScheduleNotFound(schedule_id)
        self.notify_schedules()
        return schedule_from_row(row)

    async def acquire_schedules(
        self,
        *,
        owner: str,
        limit: int,
        lease_for: timedelta,
        now: datetime,
        fence: Fence | None = None,
    ) -> list[Schedule]:
        if limit <= 0:
            return []
        rows = await self._fetch(
            "acquire_schedules", owner, limit, now, now + lease_for,
            *((fence.name, fence.owner, fence.token) if fence is not None else (None, None, None)),
        )  # fmt: skip
        found = [schedule_from_row(r) for r in rows]
        found.sort(key=lambda s: (s.next_fire_at or now, s.id))
        return found

    async def commit_fires(self, commit: FireCommit, *, now: datetime) -> bool:
        check_new_jobs(commit.jobs)
        created = False
        async with self._tx() as conn:
            locked = await conn.fetchval(
                query("lock_schedule_for_commit"), commit.schedule_id, commit.version, commit.owner
            )
            if locked is None:
                return False
            fence = commit.fence
            if fence is not None:
                held = await conn.fetchval(query("lock_fence"), fence.name, fence.owner, fence.token, now)
                if held is None:
                    return False
            results = await self._add_on(conn, commit.jobs, now) if commit.jobs else []
            created = any(r.created for r in results)
            await conn.execute(
                query("commit_schedule"),
                commit.schedule_id,
                commit.next_fire_at,
                commit.last_fire_at,
                sum(1 for r in results if r.created),
                results[-1].job.id if results else None,
                now,
            )
        if created:
            self.notify_jobs()
        return True

    async def next_schedule_due(self) -> datetime | None:
        value: datetime | None = await self._fetchval("next_schedule_due")
        return value

    # -- named leases ------------------------------------------------------------------------

    async def acquire_lease(self, name: str, *, owner: str, ttl: timedelta, now: datetime) -> Lease | None:
        row = await self._fetchrow("acquire_lease", name, owner, now, now + ttl)
        return lease_from_row(row) if row is not None else None

    async def renew_lease(
        self, name: str, *, owner: str, token: int, ttl: timedelta, now: datetime
    ) -> Lease | None:
        row = await self._fetchrow("renew_lease", name, owner, token, now, now + ttl)
        return lease_from_row(row) if row is not None else None

    async def release_lease(self, name: str, *, owner: str, token: int, now: datetime) -> bool:
        return await self._fetchrow("release_lease", name, owner, token, now) is not None

    async def get_lease(self, name: str, *, now: datetime) -> Lease | None:
        row = await self._fetchrow("get_lease", name, now)
        return lease_from_row(row) if row is not None else None
