"""``MongoStore``: the ``Store`` contract on MongoDB (and wire-compatible servers) with PyMongo's
native async client. The operations live in ``_jobs``, ``_schedules`` and ``_leases``; this
class wires them to the collections, maps driver errors and runs the wake-ups.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from rota._errors import StoreError
from rota._models import (
    AddResult,
    Attempt,
    Fence,
    Finish,
    FireCommit,
    Job,
    JobFilter,
    JobStatus,
    Lease,
    LeaseRef,
    QueueStats,
    Schedule,
)
from rota.stores.base import Store, purge_statuses
from rota.stores.mongodb._codec import Doc
from rota.stores.mongodb._config import MongoSettings, parse_url
from rota.stores.mongodb._errors import mapped_errors
from rota.stores.mongodb._jobs import JOB_INDEXES, JobOps
from rota.stores.mongodb._leases import LeaseOps
from rota.stores.mongodb._schedules import SCHEDULE_INDEXES, ScheduleOps
from rota.stores.mongodb._wakeups import POLLING, Wakeups

log = logging.getLogger("rota.stores.mongodb")


class MongoStore(Store):
    """Jobs, schedules and leases in ``<prefix>_jobs``, ``_schedules``, ``_leases`` (and
    ``_meta`` for polled wake-ups) of one database. See docs/mongodb.md."""

    kind = "mongodb"
    shared = True

    def __init__(self, settings: MongoSettings) -> None:
        super().__init__()
        self.settings = settings
        self._client: AsyncMongoClient[Doc] | None = None
        self._ops: tuple[JobOps, ScheduleOps, LeaseOps, Wakeups] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._ops is not None:
            return
        client: AsyncMongoClient[Doc] = AsyncMongoClient(
            self.settings.client_url, tz_aware=True, tzinfo=UTC, appname="rota", retryWrites=True
        )
        try:
            with mapped_errors("open"):
                hello = await client.admin.command("hello")
                db: AsyncDatabase[Doc] = client[self.settings.database]
                self._ops = await self._build(db, hello)
        except BaseException:
            await client.close()
            raise
        self._client = client
        log.info("MongoDB store open: %s", self.describe())

    async def _build(
        self, db: AsyncDatabase[Doc], hello: dict[str, Any]
    ) -> tuple[JobOps, ScheduleOps, LeaseOps, Wakeups]:
        p = self.settings.prefix
        jobs, schedules = db[f"{p}_jobs"], db[f"{p}_schedules"]
        leases, meta, marks = db[f"{p}_leases"], db[f"{p}_meta"], db[f"{p}_marks"]
        # create_index is idempotent: same name and spec is a no-op, in any number of processes
        for name, keys, extra in JOB_INDEXES:
            await jobs.create_index(keys, name=name, **extra)
        for name, keys in SCHEDULE_INDEXES:
            await schedules.create_index(keys, name=name)
        await marks.create_index([("at", 1)], name="at")
        lease_ops = LeaseOps(leases, marks)
        schedule_ops = ScheduleOps(schedules, jobs, marks, fence_ok=lease_ops.fence_ok)
        job_ops = JobOps(jobs, marks, fence_ok=lease_ops.fence_ok, on_failed=schedule_ops.record_failure)
        wakeups = Wakeups(db, meta, {jobs.name: self._jobs_changed, schedules.name: self._schedules_changed})
        await wakeups.start(hello)
        return job_ops, schedule_ops, lease_ops, wakeups

    async def close(self) -> None:
        ops, self._ops = self._ops, None
        client, self._client = self._client, None
        if ops is not None:
            await ops[3].stop()
        if client is not None:
            await client.close()

    def describe(self) -> str:
        mode = self._ops[3].mode if self._ops is not None else POLLING + " (not open)"
        return f"mongodb {self.settings.describe()}, wake-ups: {mode}"

    def _need(self) -> tuple[JobOps, ScheduleOps, LeaseOps, Wakeups]:
        if self._ops is None:
            raise StoreError("the MongoDB store is not open; call open() first")
        return self._ops

    async def _jobs_appeared(self) -> None:
        self.notify_jobs()
        wake = self._need()[3]
        await wake.publish(self._need()[0].jobs.name)

    # -- jobs ----------------------------------------------------------------------------

    async def add(self, jobs: Sequence[Job], *, now: datetime) -> list[AddResult]:
        with mapped_errors("add"):
            results = await self._need()[0].add(jobs, now)
            if any(r.created for r in results):
                await self._jobs_appeared()
            return results

    async def claim(
        self, *, queues: Sequence[str], worker: str, limit: int, lease_for: timedelta, now: datetime
    ) -> list[Job]:
        with mapped_errors("claim"):
            return await self._need()[0].claim(queues, worker, limit, lease_for, now)

    async def heartbeat(
        self, leases: Sequence[LeaseRef], *, lease_for: timedelta, now: datetime
    ) -> list[str]:
        with mapped_errors("heartbeat"):
            return await self._need()[0].heartbeat(leases, lease_for, now)

    async def finish(self, results: Sequence[Finish], *, worker: str, now: datetime) -> list[bool]:
        with mapped_errors("finish"):
            return await self._need()[0].finish(results, worker, now)

    async def release(self, leases: Sequence[LeaseRef], *, now: datetime) -> int:
        with mapped_errors("release"):
            released = await self._need()[0].release(leases, now)
            if released:
                await self._jobs_appeared()
            return released

    async def get_job(self, job_id: str) -> Job | None:
        with mapped_errors("get_job"):
            return await self._need()[0].get(job_id)

    async def list_jobs(self, flt: JobFilter) -> list[Job]:
        with mapped_errors("list_jobs"):
            return await self._need()[0].select(flt)

    async def get_attempts(self, job_id: str) -> list[Attempt]:
        with mapped_errors("get_attempts"):
            return await self._need()[0].attempts(job_id)

    async def cancel(self, job_id: str, *, now: datetime) -> Job:
        with mapped_errors("cancel"):
            return await self._need()[0].cancel(job_id, now)

    async def requeue(self, job_id: str, *, now: datetime) -> Job:
        with mapped_errors("requeue"):
            job = await self._need()[0].requeue(job_id, now)
            await self._jobs_appeared()
            return job

    async def purge(
        self,
        *,
        finished_before: datetime,
        limit: int = 1000,
        statuses: Collection[JobStatus] | None = None,
    ) -> int:
        with mapped_errors("purge"):
            return await self._need()[0].purge(finished_before, limit, purge_statuses(statuses))

    async def stats(self, *, now: datetime | None = None) -> QueueStats:
        with mapped_errors("stats"):
            return await self._need()[0].stats(now)

    async def next_due(self, *, queues: Sequence[str]) -> datetime | None:
        with mapped_errors("next_due"):
            return await self._need()[0].next_due(queues)

    # -- schedules -----------------------------------------------------------------------

    async def put_schedule(self, schedule: Schedule, *, now: datetime) -> Schedule:
        with mapped_errors("put_schedule"):
            stored, written = await self._need()[1].put(schedule, now)
            if written:
                await self._schedules_appeared()
            return stored

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        with mapped_errors("get_schedule"):
            return await self._need()[1].get(schedule_id)

    async def list_schedules(self) -> list[Schedule]:
        with mapped_errors("list_schedules"):
            return await self._need()[1].all()

    async def remove_schedule(self, schedule_id: str) -> bool:
        with mapped_errors("remove_schedule"):
            return await self._need()[1].remove(schedule_id)

    async def set_schedule_paused(
        self, schedule_id: str, paused: bool, *, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        with mapped_errors("set_schedule_paused"):
            stored = await self._need()[1].set_paused(schedule_id, paused, next_fire_at, now)
            await self._schedules_appeared()
            return stored

    async def acquire_schedules(
        self,
        *,
        owner: str,
        limit: int,
        lease_for: timedelta,
        now: datetime,
        fence: Fence | None = None,
    ) -> list[Schedule]:
        with mapped_errors("acquire_schedules"):
            return await self._need()[1].acquire(owner, limit, lease_for, now, fence)

    async def commit_fires(self, commit: FireCommit, *, now: datetime) -> bool:
        with mapped_errors("commit_fires"):
            applied, created = await self._need()[1].commit(commit, now)
            if created:
                await self._jobs_appeared()
            return applied

    async def next_schedule_due(self) -> datetime | None:
        with mapped_errors("next_schedule_due"):
            return await self._need()[1].next_due()

    async def _schedules_appeared(self) -> None:
        self.notify_schedules()
        ops = self._need()
        await ops[3].publish(ops[1].schedules.name)

    # -- named leases --------------------------------------------------------------------

    async def acquire_lease(self, name: str, *, owner: str, ttl: timedelta, now: datetime) -> Lease | None:
        with mapped_errors("acquire_lease"):
            return await self._need()[2].acquire(name, owner, ttl, now)

    async def renew_lease(
        self, name: str, *, owner: str, token: int, ttl: timedelta, now: datetime
    ) -> Lease | None:
        with mapped_errors("renew_lease"):
            return await self._need()[2].renew(name, owner, token, ttl, now)

    async def release_lease(self, name: str, *, owner: str, token: int, now: datetime) -> bool:
        with mapped_errors("release_lease"):
            return await self._need()[2].release(name, owner, token, now)

    async def get_lease(self, name: str, *, now: datetime) -> Lease | None:
        with mapped_errors("get_lease"):
            return await self._need()[2].get(name, now)

    # -- wake-ups --------------------------------------------------------------------------

    async def wait_for_jobs(self, timeout: float) -> bool:
        if self._ops is None:
            return await super().wait_for_jobs(timeout)
        return await self._ops[3].wait(self._ops[0].jobs.name, timeout)

    async def wait_for_schedules(self, timeout: float) -> bool:
        if self._ops is None:
            return await super().wait_for_schedules(timeout)
        return await self._ops[3].wait(self._ops[1].schedules.name, timeout)


def from_url(url: str) -> MongoStore:
    """``mongodb://[user:pass@]host[:port][,...]/db?prefix=rota&<MongoDB URI options>``."""
    return MongoStore(parse_url(url))
