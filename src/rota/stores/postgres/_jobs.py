"""Jobs on PostgreSQL: every method is one statement (one round trip) from queries.sql."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import asyncpg

from rota._errors import ConfigError, InvalidState, JobNotFound
from rota._models import (
    AddResult,
    Attempt,
    Finish,
    Job,
    JobFilter,
    JobStatus,
    LeaseRef,
    Outcome,
    QueueStats,
)
from rota.stores._salvage import EPOCH
from rota.stores.base import purge_statuses
from rota.stores.postgres._base import PgBase
from rota.stores.postgres._rows import (
    as_stored,
    attempt_from_row,
    job_arrays,
    job_from_row,
    job_from_table_row,
    nullable,
)
from rota.stores.postgres._sql import query

_STATUS = {s.value: s for s in JobStatus}


def check_new_jobs(jobs: Sequence[Job]) -> None:
    """Refuse bad input before anything is written (add is all or none)."""
    seen: set[str] = set()
    for job in jobs:
        if job.due_at is None:
            raise ConfigError(f"job {job.id} has no due_at")
        if job.status is not JobStatus.PENDING:
            raise InvalidState(f"job {job.id} must be added as pending, not {job.status}")
        if job.id in seen:
            raise InvalidState(f"a job with id {job.id} already exists")
        seen.add(job.id)


async def _key_holder(conn: asyncpg.Connection, key: str | None) -> Job:
    """The job holding ``key``, which an insert just found taken."""
    found = await conn.fetchrow(query("get_job_by_key"), key)
    if found is None:  # purged between the insert and this read
        raise InvalidState(f"job key {key!r} changed hands during add; retry")
    return job_from_row(found)


class JobsMixin(PgBase):
    async def add(self, jobs: Sequence[Job], *, now: datetime) -> list[AddResult]:
        if not jobs:
            return []
        check_new_jobs(jobs)
        async with self._conn() as conn:
            if len(jobs) == 1:
                return [await self._add_one(conn, jobs[0], now)]
            return await self._add_on(conn, jobs, now)

    async def _add_one(self, conn: asyncpg.Connection, job: Job, now: datetime) -> AddResult:
        try:
            created = await conn.fetchrow(
                query("add_job"),
                *(column[0] if column is not None else None for column in job_arrays([job], now)),
                self.jobs_channel,
            )
        except asyncpg.UniqueViolationError as exc:
            raise InvalidState(f"a job with id {job.id} already exists: {exc}") from exc
        if created is not None:
            self.notify_jobs()
            return AddResult(job=as_stored(job, now), created=True)
        return AddResult(job=await _key_holder(conn, job.key), created=False)

    async def _add_on(self, conn: asyncpg.Connection, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
        # two jobs with one key in a call: the first wins, the later ones get its result
        first_of: dict[str, int] = {}
        sent: list[Job] = []
        slot: list[int] = []  # input position -> index in ``sent``
        for job in jobs:
            if job.key is not None and job.key in first_of:
                slot.append(first_of[job.key])
                continue
            if job.key is not None:
                first_of[job.key] = len(sent)
            slot.append(len(sent))
            sent.append(job)
        try:
            rows = await conn.fetch(query("add_jobs"), *job_arrays(sent, now), self.jobs_channel)
        except asyncpg.UniqueViolationError as exc:
            raise InvalidState(f"a job with one of these ids already exists: {exc}") from exc
        results: list[AddResult] = []
        for job, row in zip(sent, rows, strict=True):
            if row["created"]:
                results.append(AddResult(job=as_stored(job, now), created=True))
            elif row["existing"] is not None:
                results.append(AddResult(job=job_from_row(row["existing"]), created=False))
            else:  # the holder of the key committed after this statement's snapshot was taken
                results.append(AddResult(job=await _key_holder(conn, job.key), created=False))
        out: list[AddResult] = []
        for i, s in enumerate(slot):
            res = results[s]
            duplicate = jobs[i] is not sent[s]
            out.append(AddResult(job=res.job.replace(), created=False) if duplicate else res)
        if any(r.created for r in out):
            self.notify_jobs()
        return out

    async def claim(
        self,
        *,
        queues: Sequence[str],
        worker: str,
        limit: int,
        lease_for: timedelta,
        now: datetime,
    ) -> list[Job]:
        if limit <= 0 or not queues:
            return []
        rows = await self._fetch("claim", list(dict.fromkeys(queues)), worker, limit, now + lease_for, now)
        return [job_from_table_row(r) for r in rows]

    async def heartbeat(
        self, leases: Sequence[LeaseRef], *, lease_for: timedelta, now: datetime
    ) -> list[str]:
        if not leases:
            return []
        rows = await self._fetch(
            "heartbeat",
            [r.job_id for r in leases],
            [r.token for r in leases],
            now + lease_for,
            now,
        )
        kept = {r["id"] for r in rows}
        return [r.job_id for r in leases if r.job_id not in kept]

    async def finish(self, results: Sequence[Finish], *, worker: str, now: datetime) -> list[bool]:
        if not results:
            return []
        if all(r.outcome is Outcome.SUCCEEDED and r.retry_at is None and r.fence is None for r in results):
            ids = [r.job_id for r in results]
            rows = await self._fetch(
                "finish_succeeded",
                ids,
                [r.token for r in results],
                nullable([r.result for r in results]),
                worker,
                now,
            )
            done = {r["id"] for r in rows}
            return [i in done for i in ids]
        errors = [r.error for r in results]
        fences = [r.fence for r in results]
        any_error = any(errors)
        any_fence = any(fences)
        rows = await self._fetch(
            "finish",
            [r.job_id for r in results],
            [r.token for r in results],
            [r.outcome.value for r in results],
            [r.final_status.value for r in results],
            nullable([r.retry_at for r in results]),
            [e.type if e else None for e in errors] if any_error else None,
            [e.message if e else None for e in errors] if any_error else None,
            nullable([e.traceback if e else None for e in errors]) if any_error else None,
            [e.summary() if e else None for e in errors] if any_error else None,
            nullable([r.result for r in results]),
            [f.name if f else None for f in fences] if any_fence else None,
            [f.owner if f else None for f in fences] if any_fence else None,
            [f.token if f else None for f in fences] if any_fence else None,
            worker,
            now,
            self.jobs_channel,
        )
        done = {r["id"] for r in rows}
        if any(r["woke"] for r in rows):
            self.notify_jobs()
        return [r.job_id in done for r in results]

    async def release(self, leases: Sequence[LeaseRef], *, now: datetime) -> int:
        if not leases:
            return 0
        row = await self._fetchrow(
            "release", [r.job_id for r in leases], [r.token for r in leases], self.jobs_channel, now
        )
        released = int(row["n"]) if row is not None else 0
        if released:
            self.notify_jobs()
        return released

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._fetchrow("get_job", job_id)
        return job_from_row(row) if row is not None else None

    async def list_jobs(self, flt: JobFilter) -> list[Job]:
        if flt.limit <= 0:
            return []
        rows = await self._fetch(
            "list_jobs",
            flt.status.value if flt.status is not None else None,
            flt.queue,
            flt.task,
            flt.schedule_id,
            flt.after_id,
            flt.limit,
        )
        return [job_from_row(r) for r in rows]

    async def get_attempts(self, job_id: str) -> list[Attempt]:
        return [attempt_from_row(r) for r in await self._fetch("get_attempts", job_id)]

    async def cancel(self, job_id: str, *, now: datetime) -> Job:
        row = await self._fetchrow("cancel", job_id, now)
        if row is None:
            raise JobNotFound(job_id)
        if row["id"] is None:
            raise InvalidState(f"job {job_id} is already {row['old_status']}")
        return job_from_row(row)

    async def requeue(self, job_id: str, *, now: datetime) -> Job:
        row = await self._fetchrow("requeue", job_id, now, self.jobs_channel)
        if row is None:
            raise JobNotFound(job_id)
        if row["id"] is None:
            raise InvalidState(
                f"only failed or cancelled jobs can be requeued; {job_id} is {row['old_status']}"
            )
        self.notify_jobs()
        return job_from_row(row)

    async def purge(
        self,
        *,
        finished_before: datetime,
        limit: int = 1000,
        statuses: Collection[JobStatus] | None = None,
    ) -> int:
        wanted = purge_statuses(statuses)
        if limit <= 0 or not wanted:
            return 0
        if len(wanted) == 3:  # every final status
            return int(await self._fetchval("purge", finished_before, limit))
        return int(await self._fetchval("purge_statuses", finished_before, limit, wanted))

    async def stats(self, *, now: datetime | None = None) -> QueueStats:
        stats = QueueStats()
        for row in await self._fetch("stats"):
            stats.counts.setdefault(row["queue"], {})[_STATUS[row["status"]]] = int(row["n"])
        if now is not None:
            pending = [q for q, c in stats.counts.items() if c.get(JobStatus.PENDING)]
            if pending:
                for row in await self._fetch("count_delayed", pending, now):
                    if row["n"]:
                        stats.delayed[row["queue"]] = int(row["n"])
        return stats

    async def next_due(self, *, queues: Sequence[str]) -> datetime | None:
        if not queues:
            return None
        value: datetime | None = await self._fetchval("next_due", list(dict.fromkeys(queues)))
        if value is not None and value.tzinfo is None:
            # an infinite timestamp (a bad row: the driver hands those back without a zone):
            # -infinity is due now, +infinity never
            return EPOCH if value.year == 1 else None
        return value
