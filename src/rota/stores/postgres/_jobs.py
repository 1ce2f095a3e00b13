"""Jobs on PostgreSQL: every method is one statement (one round trip) from queries/jobs.sql."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from rota._errors import InvalidState, JobNotFound
from rota._models import (
    AbortResult,
    AddResult,
    Attempt,
    ErrorInfo,
    Finish,
    FinishedCount,
    Job,
    JobFilter,
    JobStatus,
    LeaseRef,
    Outcome,
    Progress,
    QueueStats,
)
from rota.stores._deps import ParentState, link_batch
from rota.stores._gate import NEXT_DUE_SCAN, limited_next_due
from rota.stores._parts import JobsPart
from rota.stores._resources import queries
from rota.stores._salvage import EPOCH
from rota.stores.postgres._codec import ATTEMPTS, JOB_WIDTH, JOBS, job_arrays, new_job_row, nullable
from rota.stores.postgres._connection import PostgresConnection

Q = queries(__name__.rpartition(".")[0], "jobs")
_STATUS = {s.value: s for s in JobStatus}
#: Held-back limited jobs a claim passes over, at most (see MemoryJobs.claim).
HELD_SCAN = 1000

_US = timedelta(microseconds=1)
_PARENTS = JOBS.names.index("parents")  # in JOBS.to_row, the stored form of Job.parents

#: list_jobs: the condition of each field a filter may set (constant text: values are bound,
#: ``{}`` is the parameter's number)
FIND_CONDITIONS = {
    # the expressions of jobs_status_id, jobs_queue_id, jobs_task_id (migration 7)
    "status": "(status || '') = ${}",
    "queue": "(queue || '') = ${}",
    "task": "(task || '') = ${}",
    "schedule_id": "schedule_id = ${}",
    "key": "key = ${}",
    "after_id": "id > ${}",
    "before_id": "id < ${}",
}


def _job(row: asyncpg.Record, start: int = 0) -> Job:
    """The job in a row whose columns from ``start`` on are ``jobs.*``."""
    return JOBS.job_from_row(row[start : start + JOB_WIDTH])


def as_stored(job: Job, now: datetime) -> Job:
    """What add_jobs writes for a new job (it does not trust the run-state fields): ``job``
    itself when it is already that (every job ``enqueue`` makes; a copy costs a few percent
    of a one-job enqueue)."""
    if (
        job.status is JobStatus.PENDING and job.created_at is not None and job.attempts == 0
        and job.token == 0 and job.lease_owner is None and job.lease_expires_at is None
        and job.started_at is None and job.finished_at is None and job.last_error is None
        and job.result is None and job.progress is None and job.progress_message is None
        and job.progress_at is None
    ):  # fmt: skip
        return job
    return job.replace(
        status=JobStatus.PENDING,
        created_at=job.created_at or now,
        attempts=0,
        token=0,
        lease_owner=None,
        lease_expires_at=None,
        started_at=None,
        finished_at=None,
        last_error=None,
        result=None,
        progress=None,
        progress_message=None,
        progress_at=None,
    )


class PostgresJobs(JobsPart):
    def __init__(self, db: PostgresConnection) -> None:
        self._db = db
        # whether the last claim met jobs with limits: the next one then goes straight to
        # claim_limited (one round trip instead of two); a claim that fills its limit with
        # unlimited jobs only goes back to the claim statement
        self._limited = False

    async def add(self, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
        if len(jobs) == 1 and jobs[0].parents is None:
            async with self._db.quick() as conn:  # the commonest call: `task.enqueue()`
                return [await self._add_one(conn, jobs[0], now)]
        async with self._db.conn() as conn:
            if any(j.parents is not None for j in jobs):
                async with conn.transaction():
                    return await self._add_linked(conn, jobs, now)
            return await self.insert(conn, jobs, now)

    async def _add_linked(
        self, conn: asyncpg.Connection, jobs: Sequence[Job], now: datetime
    ) -> list[AddResult]:
        """``add`` of a batch with dependencies, in the caller's transaction: lock the
        parents, decide (``_deps.link_batch``), insert, then link the new rows, count the
        parents' dependants and record the edges (several statements, one transaction)."""
        keys = [j.key for j in jobs if j.key is not None]
        holders = {}
        if keys:
            holders = {r["key"]: _job(r) for r in await conn.fetch(Q["jobs_by_keys"], keys)}
        wanted = sorted({p for j in jobs for p in j.parents or ()} | {h.id for h in holders.values()})
        parents = {
            r["id"]: ParentState(_STATUS[r["status"]], r["result"])
            for r in await conn.fetch(Q["lock_parents"], wanted)
        }
        stored = {r["id"]: _job(r) for r in await conn.fetch(Q["jobs_by_ids"], [j.id for j in jobs])}
        linked = link_batch(jobs, now, holders, parents, stored)
        results = await self.insert(conn, linked.jobs, now)
        mine = [j for j, r in zip(linked.jobs, results, strict=True) if r.created and j.parents is not None]
        if mine:
            await conn.execute(
                Q["link_jobs"],
                [j.id for j in mine],
                [j.status.value for j in mine],
                [JOBS.to_row(j)[_PARENTS] for j in mine],
                [j.parents_left for j in mine],
                [j.run_after_failure for j in mine],
                [j.takes_result for j in mine],
                [j.payload for j in mine],
                [j.finished_at for j in mine],
                [j.last_error for j in mine],
            )
        if linked.dependants:
            await conn.execute(Q["add_dependants"], list(linked.dependants), list(linked.dependants.values()))
        if linked.edges:
            await conn.execute(Q["insert_edges"], *map(list, zip(*linked.edges, strict=True)))
        out: list[AddResult] = []
        for job, added in zip(linked.jobs, results, strict=True):
            res = added
            if res.created and job.parents is not None:
                res = AddResult(
                    job=res.job.replace(
                        status=job.status, parents=job.parents, parents_left=job.parents_left,
                        payload=job.payload, finished_at=job.finished_at, last_error=job.last_error,
                    ),
                    created=True,
                )  # fmt: skip
            out.append(res)
        return out

    async def _add_one(self, conn: asyncpg.Connection, job: Job, now: datetime) -> AddResult:
        created = await conn.fetchrow(Q["add_job"], *new_job_row(job), self._db.jobs_channel)
        if created is not None:
            return AddResult(job=as_stored(job, now), created=True)
        return AddResult(job=await _holder(conn, job), created=False)

    async def insert(self, conn: asyncpg.Connection, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
        """``add`` on ``conn`` (a fire commit's transaction, too)."""
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
        rows = await conn.fetch(Q["add_jobs"], *job_arrays(sent), self._db.jobs_channel)
        results: list[AddResult] = []
        for job, row in zip(sent, rows, strict=True):
            if row["created"]:
                results.append(AddResult(job=as_stored(job, now), created=True))
            elif row["existing"] is not None:
                results.append(AddResult(job=_job(row["existing"]), created=False))
            else:  # the holder of the id or key committed after this statement's snapshot
                results.append(AddResult(job=await _holder(conn, job), created=False))
        out: list[AddResult] = []
        for i, s in enumerate(slot):
            res = results[s]
            duplicate = jobs[i] is not sent[s]
            out.append(AddResult(job=res.job.replace(), created=False) if duplicate else res)
        return out

    async def claim(
        self, queues: list[str], worker: str, limit: int, until: datetime, now: datetime
    ) -> list[Job]:
        if not self._limited:
            rows = await self._db.fetch(Q["claim"], queues, worker, limit, until, now)
            if not rows or not rows[0]["limited"]:
                return [_job(r, start=1) for r in rows if r["id"] is not None]
        rows = await self._db.fetch(Q["claim_limited"], queues, worker, limit, until, now, HELD_SCAN)
        jobs = sorted((_job(r) for r in rows), key=lambda j: (-j.priority, j.due_at or EPOCH, j.id))
        self._limited = len(jobs) < limit or any(j.limited for j in jobs)
        return jobs

    async def heartbeat(self, leases: Sequence[LeaseRef], until: datetime, now: datetime) -> list[str]:
        rows = await self._db.fetch(
            Q["heartbeat"], [r.job_id for r in leases], [r.token for r in leases], until, now
        )
        kept = {r["id"] for r in rows}
        return [r.job_id for r in leases if r.job_id not in kept]

    async def finish(self, results: Sequence[Finish], worker: str, now: datetime) -> list[bool]:
        if all(
            r.outcome is Outcome.SUCCEEDED and r.retry_at is None and r.fence is None and r.progress is None
            for r in results
        ):
            ids = [r.job_id for r in results]
            rows = await self._db.fetch(
                Q["finish_succeeded"],
                ids,
                [r.token for r in results],
                nullable([r.result for r in results]),
                worker,
                now,
                self._db.jobs_channel,
                self._db.ended_channel,
            )
            done = {r["id"] for r in rows}
            return [i in done for i in ids]
        errors = [r.error for r in results]
        fences = [r.fence for r in results]
        progress = [r.progress for r in results]
        any_error = any(errors)
        any_fence = any(fences)
        any_progress = any(progress)
        rows = await self._db.fetch(
            Q["finish"],
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
            self._db.jobs_channel,
            [p.fraction if p else None for p in progress] if any_progress else None,
            [p.message if p else None for p in progress] if any_progress else None,
            self._db.ended_channel,
        )
        done = {r["id"] for r in rows}
        return [r.job_id in done for r in results]

    async def set_progress(self, lease: LeaseRef, progress: Progress, now: datetime) -> bool:
        row = await self._db.fetchrow(
            Q["set_progress"], lease.job_id, lease.token, progress.fraction, progress.message, now
        )
        return row is not None

    async def release(self, leases: Sequence[LeaseRef], now: datetime) -> int:
        row = await self._db.fetchrow(
            Q["release"], [r.job_id for r in leases], [r.token for r in leases], self._db.jobs_channel, now
        )
        return int(row["n"]) if row is not None else 0

    async def get(self, job_id: str) -> Job | None:
        row = await self._db.fetchrow(Q["get_job"], job_id)
        return _job(row) if row is not None else None

    async def find(self, flt: JobFilter) -> list[Job]:
        sql, args = find_query(flt)
        return [_job(r) for r in await self._db.fetch(sql, *args)]

    async def attempts(self, job_id: str) -> list[Attempt]:
        return [ATTEMPTS.attempt_from_row(r) for r in await self._db.fetch(Q["get_attempts"], job_id)]

    async def cancel(self, job_id: str, now: datetime) -> Job:
        row = await self._db.fetchrow(Q["cancel"], job_id, now, self._db.jobs_channel, self._db.ended_channel)
        if row is None:
            raise JobNotFound(job_id)
        if row["id"] is None:
            raise InvalidState(f"job {job_id} is already {row['old_status']}")
        return _job(row, start=1)

    async def abort(self, job_id: str, error: ErrorInfo, now: datetime) -> AbortResult:
        db = self._db
        row = await db.fetchrow(
            Q["abort"], job_id, now, db.jobs_channel, db.ended_channel, error.type, error.message,
            error.summary(),
        )  # fmt: skip
        if row is None:
            raise JobNotFound(job_id)
        return AbortResult(_job(row, start=1), applied=row["applied"])

    async def requeue(self, job_id: str, now: datetime) -> Job:
        row = await self._db.fetchrow(Q["requeue"], job_id, now, self._db.jobs_channel)
        if row is None:
            raise JobNotFound(job_id)
        if row["id"] is None:
            raise InvalidState(
                f"only failed or cancelled jobs can be requeued; {job_id} is {row['old_status']}"
            )
        return _job(row, start=1)

    async def purge(self, finished_before: datetime, limit: int, statuses: list[str]) -> int:
        if len(statuses) == 3:  # every final status
            return int(await self._db.fetchval(Q["purge"], finished_before, limit))
        return int(await self._db.fetchval(Q["purge_statuses"], finished_before, limit, statuses))

    async def stats(self, now: datetime | None) -> QueueStats:
        stats = QueueStats()
        for row in await self._db.fetch(Q["stats"]):
            stats.counts.setdefault(row["queue"], {})[_STATUS[row["status"]]] = int(row["n"])
        if now is not None:
            pending = [q for q, c in stats.counts.items() if c.get(JobStatus.PENDING)]
            if pending:
                for row in await self._db.fetch(Q["count_delayed"], pending, now):
                    if row["n"]:
                        stats.delayed[row["queue"]] = int(row["n"])
        return stats

    async def next_due(self, queues: list[str]) -> datetime | None:
        rows = await self._db.fetch(Q["next_due"], queues, NEXT_DUE_SCAN)
        value: datetime | None = rows[0]["first"]
        if value is not None and value.tzinfo is None:
            # an infinite timestamp (a bad row: the driver hands those back without a zone):
            # -infinity is due now, +infinity never
            value = EPOCH if value.year == 1 else None
        groups = sorted((r for r in rows if r["due"] is not None), key=lambda r: r["due"])
        if not groups:
            return value
        holders = {r["concurrency_key"]: (int(r["n"] or 0), r["expiry"]) for r in groups}
        buckets = {r["rate_key"]: r["tat"] for r in groups}
        pending = [(r["due"], *(r[k] for k in _LIMIT_FIELDS)) for r in groups]
        best = limited_next_due(pending, holders.__getitem__, buckets.__getitem__, cut=False)
        for candidate in (value, rows[0]["cut"]):
            if candidate is not None and candidate.tzinfo is not None and (best is None or candidate < best):
                best = candidate
        return best

    async def count_finished(
        self, since: datetime, until: datetime, bucket: timedelta
    ) -> list[FinishedCount]:
        size = bucket // _US
        rows = await self._db.fetch(Q["count_finished"], since, until, size)
        return [
            FinishedCount(since + r["k"] * bucket, r["queue"], _STATUS[r["status"]], int(r["n"]))
            for r in rows
        ]


_LIMIT_FIELDS = ("concurrency_key", "concurrency_limit", "rate_key", "rate_limit", "rate_period")


def find_query(flt: JobFilter) -> tuple[str, list[object]]:
    """The statement and arguments of ``list_jobs`` for ``flt``."""
    args: list[object] = [flt.limit]
    where = []
    for field, condition in FIND_CONDITIONS.items():
        value = getattr(flt, field)
        if value is not None:
            args.append(value.value if isinstance(value, JobStatus) else value)
            where.append(condition.format(len(args)))
    order = "DESC" if flt.newest_first else "ASC"
    return Q["find_jobs"].format(where=" AND ".join(where) or "true", order=order), args


async def _holder(conn: asyncpg.Connection, job: Job) -> Job:
    """The job holding ``job``'s id (else its key), which an insert just found taken."""
    found = await conn.fetchrow(Q["get_job_by_key"], job.id, job.key)
    if found is None:  # purged between the insert and this read
        raise InvalidState(f"job {job.id} (key {job.key!r}) changed hands during add; retry")
    return _job(found)
