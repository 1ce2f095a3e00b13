"""Jobs on Redis; every multi-key change is one Lua script.

Keys (``N`` is the namespace hash tag ``{prefix}``): ``N:j:<id>`` job hash, ``N:a:<id>``
attempt list, ``N:due:<queue>`` pending jobs not yet due when added (or retried, released) by
due time, ``N:r:<queue>`` ready zset (score -priority, member zero-padded due time + id; jobs
due when added go straight there), ``N:run:<queue>`` running zset by lease expiry, ``N:ids``
every job id (lexicographic = time order); ``due``, ``ldue`` and ``ids`` are ordered indexes
kept in chunks (scripts/_ordered.lua), ``N:fin`` finished jobs by finish time, ``N:keys``
dedupe key -> id, ``N:cnt`` counts per status and queue. Jobs with limits: ``N:ldue:<queue>``
and ``N:lr:<queue>`` their delayed index and ready zset (as ``due`` and ``r``),
``N:cc:<key>`` the running jobs of a concurrency key by lease expiry, ``N:rt:<key>`` a
rate key's bucket (tat in microseconds, expiring once full; see rota/stores/_gate.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

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
    Progress,
    QueueStats,
)
from rota.stores._gate import to_us
from rota.stores._parts import JobsPart
from rota.stores.redis._codec import decode_attempt, decode_job, decode_jobs, from_ms, job_args, to_ms
from rota.stores.redis._connection import EncodedArg, RedisConnection

PURGE_PAGE = 1000  # finished jobs a purge script run looks at
#: Held-back limited jobs a claim passes over, at most (see MemoryJobs.claim).
HELD_SCAN = 1000
_LIST_BUDGET = 1000  # ids a list call scans per script run, so no run blocks the server long
FINISHED_PAGE = 5000  # finished jobs a count_finished script run looks at
_MS = timedelta(milliseconds=1)


class RedisJobs(JobsPart):
    def __init__(self, db: RedisConnection) -> None:
        self._db = db

    async def add(self, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
        args: list[EncodedArg] = [len(jobs), to_ms(now)]
        for job in jobs:
            args += job_args(job)
        rows = await self._db.run("add", *args)
        if rows and rows[0] == b"missing":
            raise JobNotFound(
                f"job {rows[1].decode()} waits for job {rows[2].decode()}, which does not exist"
            )
        return [
            AddResult(job, True) if row[0] == 1 else AddResult(decode_job(row[1], row[2]), row[0] == 2)
            for job, row in zip(jobs, rows, strict=True)
        ]

    async def claim(
        self, queues: list[str], worker: str, limit: int, until: datetime, now: datetime
    ) -> list[Job]:
        at = to_ms(now)
        expires = max(to_ms(until), at + 1)  # a lease shorter than the store's millisecond
        promote_max = max(1000, 10 * limit)
        rows = await self._db.run(
            "claim", at, expires, worker, limit, promote_max, to_us(now), HELD_SCAN, len(queues), *queues
        )
        return decode_jobs(rows)

    async def heartbeat(self, leases: Sequence[LeaseRef], until: datetime, now: datetime) -> list[str]:
        args: list[EncodedArg] = [to_ms(now), to_ms(until), len(leases)]
        for ref in leases:
            args += (ref.job_id, ref.token)
        lost = await self._db.run("heartbeat", *args)
        return [raw.decode() for raw in lost]

    async def finish(self, results: Sequence[Finish], worker: str, now: datetime) -> list[bool]:
        args: list[EncodedArg] = [to_ms(now), worker, len(results)]
        for r in results:
            err = r.error
            fence = r.fence
            args += (
                r.job_id,
                r.token,
                r.outcome.value,
                r.final_status.value,
                "" if r.retry_at is None else to_ms(r.retry_at),
                "" if err is None else json.dumps([err.type, err.message, err.traceback]),
                "" if err is None else err.summary(),
                "0" if r.result is None else "1",
                r.result or b"",
                "" if fence is None else fence.name,
                "" if fence is None else fence.owner,
                "" if fence is None else fence.token,
                *_progress_args(r.progress),
            )
        applied = await self._db.run("finish", *args)
        return [flag == 1 for flag in applied]

    async def release(self, leases: Sequence[LeaseRef], now: datetime) -> int:
        args: list[EncodedArg] = [to_ms(now), len(leases)]
        for ref in leases:
            args += (ref.job_id, ref.token)
        released: int = await self._db.run("release", *args)
        return released

    async def set_progress(self, lease: LeaseRef, progress: Progress, now: datetime) -> bool:
        written = await self._db.run(
            "set_progress", to_ms(now), lease.job_id, lease.token, *_progress_args(progress)
        )
        return bool(written)

    async def get(self, job_id: str) -> Job | None:
        async with self._db.mapped("get_job"):
            flat = await self._db.client.hgetall(f"{self._db.namespace}:j:{job_id}")
        if not flat:
            return None
        return decode_job(job_id, [x for kv in flat.items() for x in kv])

    async def find(self, flt: JobFilter) -> list[Job]:
        found: list[Job] = []
        after, before = flt.after_id or "", flt.before_id or ""
        while len(found) < flt.limit:
            rows = await self._db.run(
                "list",
                after,
                before,
                "1" if flt.newest_first else "",
                _LIST_BUDGET,
                flt.limit - len(found),
                "" if flt.status is None else flt.status.value,
                flt.queue or "",
                flt.task or "",
                flt.schedule_id or "",
                flt.key or "",
            )
            found += decode_jobs(rows[1:])
            if not rows[0]:
                break
            if flt.newest_first:
                before = rows[0].decode()
            else:
                after = rows[0].decode()
        return found[: flt.limit]

    async def attempts(self, job_id: str) -> list[Attempt]:
        async with self._db.mapped("get_attempts"):
            raw = await self._db.client.lrange(f"{self._db.namespace}:a:{job_id}", 0, -1)
        return sorted((decode_attempt(job_id, r) for r in raw), key=lambda a: a.number)

    async def cancel(self, job_id: str, now: datetime) -> Job:
        return _outcome(job_id, "cancel", await self._db.run("cancel", to_ms(now), job_id))

    async def abort(self, job_id: str, error: ErrorInfo, now: datetime) -> AbortResult:
        reply = await self._db.run("abort", to_ms(now), job_id, error.type, error.message, error.summary())
        if reply[0] == b"ended":
            return AbortResult(decode_job(job_id, reply[1]), applied=False)
        return AbortResult(_outcome(job_id, "abort", reply), applied=True)

    async def requeue(self, job_id: str, now: datetime) -> Job:
        return _outcome(job_id, "requeue", await self._db.run("requeue", to_ms(now), job_id))

    async def purge(self, finished_before: datetime, limit: int, statuses: list[str]) -> int:
        # one bounded page of the finished index per script call, so a purge that skips many
        # jobs of other statuses never blocks the server for long
        purged = skip = 0
        while purged < limit:
            deleted, kept, seen = await self._db.run(
                "purge", to_ms(finished_before), limit - purged, skip, ",".join(statuses), PURGE_PAGE
            )
            purged += int(deleted)
            skip += int(kept)
            if int(seen) < PURGE_PAGE or int(deleted) + int(kept) < int(seen):
                break
        return purged

    async def stats(self, now: datetime | None) -> QueueStats:
        async with self._db.mapped("stats"):
            raw = await self._db.client.hgetall(f"{self._db.namespace}:cnt")
        out = QueueStats()
        for field, value in raw.items():
            status, _, queue = field.decode().partition("|")
            out.counts.setdefault(queue, {})[JobStatus(status)] = int(value)
        if now is not None:
            pending = [q for q, c in out.counts.items() if c.get(JobStatus.PENDING)]
            if pending:
                counts = await self._db.run("count_delayed", to_ms(now), len(pending), *pending)
                out.delayed = {q: int(n) for q, n in zip(pending, counts, strict=True) if int(n)}
        return out

    async def next_due(self, queues: list[str]) -> datetime | None:
        ms = await self._db.run("next_due", len(queues), *queues)
        return None if ms is None else from_ms(ms)

    async def count_finished(
        self, since: datetime, until: datetime, bucket: timedelta
    ) -> list[FinishedCount]:
        # one bounded page of the finished index per script run (see purge)
        start, size = to_ms(since), bucket // _MS
        counts: dict[tuple[int, str, str], int] = {}
        offset = 0
        while True:
            reply = await self._db.run("count_finished", start, to_ms(until), size, offset, FINISHED_PAGE)
            seen = int(reply[0])
            for i in range(1, len(reply), 4):
                k, queue, status = int(reply[i]), reply[i + 1].decode(), reply[i + 2].decode()
                counts[k, queue, status] = counts.get((k, queue, status), 0) + int(reply[i + 3])
            if seen < FINISHED_PAGE:
                break
            offset += seen
        return [
            FinishedCount(since + k * bucket, queue, JobStatus(status), n)
            for (k, queue, status), n in sorted(counts.items())
        ]


def _progress_args(progress: Progress | None) -> tuple[EncodedArg, EncodedArg, EncodedArg]:
    """progress ('' none), has_message ('1'/'0'), message: as set_progress.lua and finish.lua read them."""
    if progress is None:
        return ("", "0", "")
    message = progress.message
    return (repr(progress.fraction), "0" if message is None else "1", message or "")


def _outcome(job_id: str, what: str, reply: list[Any]) -> Job:
    code = reply[0]
    if code == b"missing":
        raise JobNotFound(f"no job {job_id}")
    if code == b"state":
        raise InvalidState(f"cannot {what} job {job_id}: it is {reply[1].decode()}")
    return decode_job(job_id, reply[1])
