"""Jobs on SQLite: ``SQLiteJobs`` runs each operation below on the store's thread, where
each batch call is one transaction. The claim is in _claim.py, the settling of dependants in
_deps.py, the job counts every status change keeps in _counts.py."""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from rota._errors import InvalidState, JobNotFound
from rota._models import (
    FINAL_STATUSES,
    AbortResult,
    AddResult,
    Attempt,
    ErrorInfo,
    Fence,
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
from rota.stores.sqlite._claim import bucket_reader, claim
from rota.stores.sqlite._codec import ATTEMPTS, JOBS, from_us, opt_us, stored_int, to_us
from rota.stores.sqlite._connection import SQLiteConnection, write
from rota.stores.sqlite._counts import PENDING, RUNNING, Counts
from rota.stores.sqlite._deps import settle_dependants
from rota.stores.sqlite._leases import fence_held

Q = queries(__name__.rpartition(".")[0], "jobs")
_FINAL = frozenset(s.value for s in FINAL_STATUSES)
_US = timedelta(microseconds=1)


def _refs_json(refs: Sequence[LeaseRef]) -> str:
    return json.dumps([[r.job_id, r.token] for r in refs])


# -- add -------------------------------------------------------------------------------


def add(conn: sqlite3.Connection, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
    if any(j.parents is not None for j in jobs):
        with write(conn):
            return _add_linked(conn, jobs, now)
    params = [JOBS.to_row(j) for j in jobs]  # encode before taking the lock
    with write(conn):
        if all(j.key is None for j in jobs):
            inserted = _insert_unseen(conn, jobs, params)
            if inserted is not None:
                return inserted
        return insert_jobs(conn, jobs, params)


def _insert_unseen(
    conn: sqlite3.Connection, jobs: Sequence[Job], params: list[tuple[Any, ...]]
) -> list[AddResult] | None:
    """The common case, jobs without keys under new ids, inserted without reading first;
    None (and nothing written) when an id is already stored: ``insert_jobs`` sorts it out."""
    conn.execute("SAVEPOINT unseen")
    try:
        conn.executemany(Q["insert_job"], params)
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK TO unseen")
        conn.execute("RELEASE unseen")
        return None
    conn.execute("RELEASE unseen")
    return _counted(conn, [AddResult(job, created=True) for job in jobs])


def _add_linked(conn: sqlite3.Connection, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
    """``add`` of a batch with dependencies, in the caller's write transaction: the jobs as
    their parents make them (``_deps.link_batch``), their edges and the parents' counts."""
    stored, holders = _already_stored(conn, jobs)
    wanted = sorted({p for j in jobs for p in j.parents or ()} | {h.id for h in holders.values()})
    parents = {
        job_id: ParentState(JobStatus(status), result)
        for job_id, status, result in conn.execute(Q["parent_states"], (json.dumps(wanted),))
    }
    linked = link_batch(jobs, now, holders, parents, stored)
    results = insert_jobs(conn, linked.jobs, [JOBS.to_row(j) for j in linked.jobs], (stored, holders))
    conn.executemany(Q["add_dependants"], [(n, job_id) for job_id, n in linked.dependants.items()])
    conn.executemany(Q["insert_edge"], linked.edges)
    return results


def _already_stored(conn: sqlite3.Connection, jobs: Sequence[Job]) -> tuple[dict[str, Job], dict[str, Job]]:
    """The stored jobs among the batch's ids (by id) and those holding its keys (by key)."""
    keys = [j.key for j in jobs if j.key is not None]
    ids = {j.id for j in jobs}
    by_id: dict[str, Job] = {}
    seen: dict[str, Job] = {}
    for row in conn.execute(Q["jobs_by_keys"], (json.dumps(sorted(ids)), json.dumps(keys))):
        stored = JOBS.job_from_row(row)
        if stored.id in ids:
            by_id[stored.id] = stored
        if stored.key is not None:
            seen[stored.key] = stored
    return by_id, seen


def insert_jobs(
    conn: sqlite3.Connection,
    jobs: Sequence[Job],
    params: list[tuple[Any, ...]],
    found: tuple[dict[str, Job], dict[str, Job]] | None = None,
) -> list[AddResult]:
    """Insert inside the caller's write transaction, deduplicating by id, then by key
    (``found``: ``_already_stored``'s answer, when already read)."""
    by_id, seen = _already_stored(conn, jobs) if found is None else (found[0], dict(found[1]))
    results: list[AddResult] = []
    fresh: list[tuple[Any, ...]] = []
    for job, p in zip(jobs, params, strict=True):
        existing = by_id.get(job.id)
        if existing is None and job.key is not None:
            existing = seen.get(job.key)
        if existing is not None:
            results.append(AddResult(existing, created=False))
            continue
        if job.key is not None:
            seen[job.key] = job  # a later job with this key in the same call loses
        fresh.append(p)
        results.append(AddResult(job, created=True))
    conn.executemany(Q["insert_job"], fresh)
    return _counted(conn, results)


def _counted(conn: sqlite3.Connection, results: list[AddResult]) -> list[AddResult]:
    """``results``, once the jobs they created are in job_counts."""
    counts = Counts()
    for r in results:
        if r.created:
            counts.add(r.job.queue, r.job.status.value)
    counts.write(conn)
    return results


# -- leases of running jobs ------------------------------------------------------------


def heartbeat(
    conn: sqlite3.Connection, refs: Sequence[LeaseRef], until: datetime, now: datetime
) -> list[str]:
    args = {"expires": to_us(until), "now": to_us(now), "refs": _refs_json(refs)}
    with write(conn):
        alive = {row[0] for row in conn.execute(Q["heartbeat"], args)}
    return [r.job_id for r in refs if r.job_id not in alive]


def release(conn: sqlite3.Connection, refs: Sequence[LeaseRef], now: datetime) -> int:
    now_us = to_us(now)
    args = {"refs": _refs_json(refs)}
    with write(conn):
        # by id: a claim named twice in one call is released (and recorded) once
        held = list({row[0]: row[:5] for row in conn.execute(Q["release_candidates"], args)}.values())
        if not held:
            return 0
        conn.executemany(
            Q["insert_attempt"],
            [
                (job_id, token, owner or "", started if started is not None else now_us, now_us,
                 Outcome.RELEASED.value, None, None, None)
                for job_id, token, owner, started, _ in held
            ],
        )  # fmt: skip
        conn.execute(Q["release"], args)
        counts = Counts()
        for *_, queue in held:
            counts.move(queue, RUNNING, PENDING)
        counts.write(conn)
    return len(held)


def finish(
    conn: sqlite3.Connection, results: Sequence[Finish], worker: str, now: datetime
) -> tuple[list[bool], bool]:
    """The outcomes applied, and whether a job with a concurrency key stopped running or a
    dependant was released (either way: wake the workers)."""
    now_us = to_us(now)
    refs = json.dumps([[r.job_id, r.token] for r in results])
    attempts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    progress: list[tuple[Any, ...]] = []
    failed_schedules: list[tuple[str | None, str]] = []
    applied: list[bool] = []
    counts = Counts()
    freed = False
    ended: list[tuple[str, JobStatus, bytes | None]] = []
    with write(conn):
        live = {row[0]: row for row in conn.execute(Q["finish_candidates"], {"refs": refs})}
        fences: dict[Fence, bool] = {}
        for res in results:
            row = live.get(res.job_id)
            ok = row is not None and row[1] == res.token
            if ok and res.fence is not None:
                held = fences.get(res.fence)
                if held is None:
                    held = fences[res.fence] = fence_held(conn, res.fence, now_us)
                ok = held
            applied.append(ok)
            if not ok or row is None:
                continue
            del live[res.job_id]  # the same claim cannot be finished twice in one call
            err = res.error
            summary = err.summary() if err is not None else None
            status = res.final_status
            retry = res.retry_at is not None  # a retry is not finished: finished_at stays
            attempts.append((
                res.job_id, res.token, worker, row[2] if row[2] is not None else now_us, now_us,
                res.outcome.value, err.type if err else None, err.message if err else None,
                err.traceback if err else None,
            ))  # fmt: skip
            updates.append((
                status.value, opt_us(res.retry_at), None if retry else now_us, summary,
                res.result, res.job_id, res.token,
            ))  # fmt: skip
            if res.progress is not None:
                progress.append(_progress_row(res.job_id, res.token, res.progress, now_us))
            counts.move(row[4], RUNNING, status.value)
            freed = freed or row[5] is not None
            if row[6] and not retry:  # it ended, with dependants to settle
                ended.append((res.job_id, status, res.result))
            if status is JobStatus.FAILED and row[3] is not None:
                failed_schedules.append((summary, row[3]))
        if attempts:
            conn.executemany(Q["insert_attempt"], attempts)
            if progress:  # while the jobs still run with these tokens
                conn.executemany(Q["set_progress"], progress)
            conn.executemany(Q["finish_job"], updates)
        if failed_schedules:
            conn.executemany(Q["schedule_failed"], failed_schedules)
        for parent in ended:
            freed = settle_dependants(conn, parent, now_us, counts) or freed
        counts.write(conn)
    return applied, freed


def _progress_row(job_id: str, token: int, progress: Progress, now_us: int) -> tuple[Any, ...]:
    return (progress.fraction, progress.message, now_us, job_id, token)


def set_progress(conn: sqlite3.Connection, lease: LeaseRef, progress: Progress, now: datetime) -> bool:
    row = _progress_row(lease.job_id, lease.token, progress, to_us(now))
    with write(conn):
        return conn.execute(Q["set_progress"], row).rowcount > 0


# -- single jobs -----------------------------------------------------------------------


def get_job(conn: sqlite3.Connection, job_id: str) -> Job | None:
    row = conn.execute(Q["get_job"], (job_id,)).fetchone()
    return None if row is None else JOBS.job_from_row(row)


#: list_jobs: the condition of each field a filter may set (constant text: values are bound)
FIND_CONDITIONS = {
    # the expressions of jobs_status_id, jobs_queue_id, jobs_task_id (migration 5)
    "status": "(status || '') = :status",
    "queue": "(queue || '') = :queue",
    "task": "(task || '') = :task",
    "schedule_id": "schedule_id = :schedule_id",
    "key": "key = :key",
    "after_id": "id > :after_id",
    "before_id": "id < :before_id",
}


def find_query(flt: JobFilter) -> tuple[str, dict[str, object]]:
    """The statement and arguments of ``list_jobs`` for ``flt``."""
    args: dict[str, object] = {"limit": flt.limit}
    where = []
    for field, condition in FIND_CONDITIONS.items():
        value = getattr(flt, field)
        if value is not None:
            where.append(condition)
            args[field] = value.value if isinstance(value, JobStatus) else value
    order = "DESC" if flt.newest_first else "ASC"
    return Q["find_jobs"].format(where=" AND ".join(where) or "1", order=order), args


def find(conn: sqlite3.Connection, flt: JobFilter) -> list[Job]:
    sql, args = find_query(flt)
    return [JOBS.job_from_row(r) for r in conn.execute(sql, args)]


def get_attempts(conn: sqlite3.Connection, job_id: str) -> list[Attempt]:
    return [ATTEMPTS.attempt_from_row(r) for r in conn.execute(Q["get_attempts"], (job_id,))]


def cancel(conn: sqlite3.Connection, job_id: str, now: datetime) -> Job:
    """The job cancelled (its ``concurrency_key`` and previous status tell whether it freed a
    slot: see ``SQLiteJobs.cancel``)."""
    now_us = to_us(now)
    with write(conn):
        row = conn.execute(Q["get_job"], (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id!r}")
        if row[5] in _FINAL:
            raise InvalidState(
                f"job {job_id} is already {row[5]}; only pending or running jobs can be cancelled"
            )
        if row[5] == JobStatus.RUNNING.value:
            conn.execute(
                Q["insert_attempt"],
                (job_id, row[10], row[11] or "", row[13] or now_us, now_us, "cancelled",
                 None, None, None),
            )  # fmt: skip
        counts = Counts()
        counts.move(row[2], row[5], JobStatus.CANCELLED.value)
        row = conn.execute(Q["cancel_job"], {"id": job_id, "now": now_us}).fetchone()
        job = JOBS.job_from_row(row)
        if job.dependants:
            settle_dependants(conn, (job_id, JobStatus.CANCELLED, None), now_us, counts)
        counts.write(conn)
    return job


def abort(conn: sqlite3.Connection, job_id: str, error: ErrorInfo, now: datetime) -> tuple[AbortResult, bool]:
    """``Store.abort``, and whether to wake idle workers (a running job's slot freed, or a
    dependant that runs after a failure released)."""
    now_us = to_us(now)
    with write(conn):
        row = conn.execute(Q["get_job"], (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id!r}")
        if row[5] in _FINAL:
            return AbortResult(JOBS.job_from_row(row), applied=False), False
        running = row[5] == JobStatus.RUNNING.value
        if running:
            conn.execute(
                Q["insert_attempt"],
                (job_id, row[10], row[11] or "", row[13] or now_us, now_us, Outcome.ABORTED.value,
                 error.type, error.message, None),
            )  # fmt: skip
        counts = Counts()
        counts.move(row[2], row[5], JobStatus.CANCELLED.value)
        row = conn.execute(Q["abort_job"], {"id": job_id, "now": now_us, "error": error.summary()}).fetchone()
        job = JOBS.job_from_row(row)
        released = False
        if job.dependants:  # settled as for any cancelled parent, in the same transaction
            released = settle_dependants(conn, (job_id, JobStatus.CANCELLED, None), now_us, counts)
        counts.write(conn)
    return AbortResult(job, applied=True), released or (running and job.concurrency_key is not None)


def requeue(conn: sqlite3.Connection, job_id: str, now: datetime) -> Job:
    with write(conn):
        row = conn.execute(Q["get_job"], (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id!r}")
        if row[5] not in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
            raise InvalidState(f"job {job_id} is {row[5]}; only failed or cancelled jobs can be requeued")
        counts = Counts()
        counts.move(row[2], row[5], PENDING)
        counts.write(conn)
        row = conn.execute(Q["requeue_job"], {"id": job_id, "now": to_us(now)}).fetchone()
    return JOBS.job_from_row(row)


def purge(conn: sqlite3.Connection, finished_before: datetime, limit: int, statuses: list[str]) -> int:
    params: dict[str, object] = {"before": to_us(finished_before), "limit": limit}
    query = "purge"
    if len(statuses) < 3:  # fewer than every final status
        query, params["statuses"] = "purge_statuses", json.dumps(statuses)
    with write(conn):
        rows = conn.execute(Q[query], params).fetchall()
        counts = Counts()
        for queue, status in rows:
            counts.add(queue, status, -1)
        counts.write(conn)
        conn.execute(Q["forget_full_buckets"], (params["before"],))
    return len(rows)


def stats(conn: sqlite3.Connection, now: datetime | None) -> QueueStats:
    out = QueueStats()
    for queue, status, n in conn.execute(Q["stats"]):
        out.counts.setdefault(queue, {})[JobStatus(status)] = n
    if now is not None:
        for queue, counts in out.counts.items():
            if counts.get(JobStatus.PENDING):
                n = conn.execute(Q["count_delayed"], {"queue": queue, "now": to_us(now)}).fetchone()[0]
                if n:
                    out.delayed[queue] = n
    return out


def next_due(conn: sqlite3.Connection, queues: list[str]) -> datetime | None:
    best: int | None = None
    for q in queues:
        for name in ("next_pending_due", "next_lease_expiry"):
            value = conn.execute(Q[name], {"queue": q}).fetchone()[0]
            # (a bad row's text sorts after every number in SQLite: min() only meets it alone)
            if type(value) is int and (best is None or value < best):
                best = value
    first = None if best is None else from_us(best)
    per_queue = [
        conn.execute(Q["limited_by_due"], {"queue": q, "limit": NEXT_DUE_SCAN + 1}).fetchall() for q in queues
    ]
    rows = list(islice(heapq.merge(*(r for r in per_queue if r)), NEXT_DUE_SCAN + 1))
    if not rows:
        return first
    pending = [(from_us(stored_int(due)), *limits) for due, *limits in rows[:NEXT_DUE_SCAN]]
    limited = limited_next_due(pending, _holders(conn), bucket_reader(conn), cut=len(rows) > NEXT_DUE_SCAN)
    return limited if first is None or (limited is not None and limited < first) else first


def _holders(conn: sqlite3.Connection) -> Callable[[str], tuple[int, datetime | None]]:
    def read(key: str) -> tuple[int, datetime | None]:
        n, first = conn.execute(Q["holders"], {"key": key}).fetchone()
        return stored_int(n), None if type(first) is not int else from_us(first)

    return read


def count_finished(
    conn: sqlite3.Connection, since: datetime, until: datetime, bucket: timedelta
) -> list[FinishedCount]:
    start, size = to_us(since), bucket // _US
    args = {"since": start, "until": to_us(until), "bucket": size}
    return [
        FinishedCount(from_us(start + k * size), queue, JobStatus(status), n)
        for k, queue, status, n in conn.execute(Q["count_finished"], args)
    ]


class SQLiteJobs(JobsPart):
    """``wake`` is called when a job with a concurrency key stops running (a slot is free;
    other processes find out by polling)."""

    def __init__(self, db: SQLiteConnection, wake: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._wake = wake

    async def add(self, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
        return await self._db.write_inline(add, jobs, now)

    async def claim(
        self, queues: list[str], worker: str, limit: int, until: datetime, now: datetime
    ) -> list[Job]:
        return await self._db.run(claim, queues, worker, limit, until=until, now=now)

    async def heartbeat(self, leases: Sequence[LeaseRef], until: datetime, now: datetime) -> list[str]:
        return await self._db.run(heartbeat, leases, until, now)

    async def finish(self, results: Sequence[Finish], worker: str, now: datetime) -> list[bool]:
        applied, freed = await self._db.run(finish, results, worker, now)
        if freed:
            self._wake()
        return applied

    async def release(self, leases: Sequence[LeaseRef], now: datetime) -> int:
        return await self._db.run(release, leases, now)

    async def set_progress(self, lease: LeaseRef, progress: Progress, now: datetime) -> bool:
        return await self._db.run(set_progress, lease, progress, now)

    async def get(self, job_id: str) -> Job | None:
        return await self._db.run(get_job, job_id)

    async def find(self, flt: JobFilter) -> list[Job]:
        return await self._db.run(find, flt)

    async def attempts(self, job_id: str) -> list[Attempt]:
        return await self._db.run(get_attempts, job_id)

    async def cancel(self, job_id: str, now: datetime) -> Job:
        job = await self._db.run(cancel, job_id, now)
        if job.concurrency_key is not None or job.dependants:
            # a slot freed, or a dependant that runs after failure released (also when
            # neither happened: a spare wake-up costs one claim)
            self._wake()
        return job

    async def abort(self, job_id: str, error: ErrorInfo, now: datetime) -> AbortResult:
        done, freed = await self._db.run(abort, job_id, error, now)
        if freed:
            self._wake()  # a slot of its concurrency key is free
        return done

    async def requeue(self, job_id: str, now: datetime) -> Job:
        return await self._db.run(requeue, job_id, now)

    async def purge(self, finished_before: datetime, limit: int, statuses: list[str]) -> int:
        return await self._db.run(purge, finished_before, limit, statuses)

    async def stats(self, now: datetime | None) -> QueueStats:
        return await self._db.run(stats, now)

    async def next_due(self, queues: list[str]) -> datetime | None:
        return await self._db.run(next_due, queues)

    async def count_finished(
        self, since: datetime, until: datetime, bucket: timedelta
    ) -> list[FinishedCount]:
        return await self._db.run(count_finished, since, until, bucket)
