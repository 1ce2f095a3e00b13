"""Job methods of the Redis store; every multi-key change is one Lua script.

Keys (``N`` is the namespace hash tag ``{prefix}``): ``N:j:<id>`` job hash, ``N:a:<id>``
attempt list, ``N:d:<queue>`` delayed/pending zset by due time, ``N:r:<queue>`` ready zset
(score -priority, member zero-padded due time + id), ``N:run:<queue>`` running zset by lease
expiry, ``N:all`` every job id (lexicographic = time order), ``N:fin`` finished jobs by
finish time, ``N:keys`` dedupe key -> id, ``N:cnt`` counts per status and queue.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rota._errors import ConfigError, InvalidState, JobNotFound
from rota._models import (
    AddResult,
    Attempt,
    Finish,
    Job,
    JobFilter,
    JobStatus,
    LeaseRef,
    QueueStats,
)
from rota.stores.base import purge_statuses
from rota.stores.redis._codec import (
    decode_attempt,
    decode_job,
    decode_jobs,
    from_ms,
    job_args,
    to_ms,
)
from rota.stores.redis._scripts import EncodedArg, mapped_errors, script

PURGE_PAGE = 1000  # finished jobs a purge script run looks at
_LIST_BUDGET = 1000  # ids a list call scans per script run, so no run blocks the server long


class JobsMixin:
    _client: Any
    _ns: str

    if TYPE_CHECKING:

        def notify_jobs(self) -> None: ...

    async def _run(self, name: str, *args: EncodedArg) -> Any:
        return await script(name)(self._client, [self._ns + ":cnt"], [self._ns, *args])

    async def add(self, jobs: Sequence[Job], *, now: datetime) -> list[AddResult]:
        if not jobs:
            return []
        if len({job.id for job in jobs}) != len(jobs):
            raise InvalidState("one add call holds two jobs with the same id")
        args: list[EncodedArg] = [len(jobs)]
        for job in jobs:
            if job.status is not JobStatus.PENDING:
                raise InvalidState(f"job {job.id} must be added as pending, not {job.status}")
            args += job_args(job)
        rows = await self._run("add", *args)
        if rows and rows[0] == b"exists":
            raise InvalidState(f"a job with id {rows[1].decode()} already exists")
        results = [
            AddResult(job, True) if row[0] == 1 else AddResult(decode_job(row[1], row[2]), False)
            for job, row in zip(jobs, rows, strict=True)
        ]
        if any(r.created for r in results):
            self.notify_jobs()
        return results

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
        if lease_for <= timedelta(0):
            raise ConfigError(f"lease_for must be positive, got {lease_for}")
        at = to_ms(now)
        until = at + max(1, lease_for // timedelta(milliseconds=1))
        promote_max = max(1000, 10 * limit)
        rows = await self._run("claim", at, until, worker, limit, promote_max, len(queues), *queues)
        return decode_jobs(rows)

    async def heartbeat(
        self, leases: Sequence[LeaseRef], *, lease_for: timedelta, now: datetime
    ) -> list[str]:
        if not leases:
            return []
        at = to_ms(now)
        until = at + lease_for // timedelta(milliseconds=1)
        args: list[EncodedArg] = [at, until, len(leases)]
        for ref in leases:
            args += (ref.job_id, ref.token)
        lost = await self._run("heartbeat", *args)
        return [raw.decode() for raw in lost]

    async def finish(self, results: Sequence[Finish], *, worker: str, now: datetime) -> list[bool]:
        if not results:
            return []
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
            )
        applied = await self._run("finish", *args)
        return [flag == 1 for flag in applied]

    async def release(self, leases: Sequence[LeaseRef], *, now: datetime) -> int:
        if not leases:
            return 0
        args: list[EncodedArg] = [to_ms(now), len(leases)]
        for ref in leases:
            args += (ref.job_id, ref.token)
        released: int = await self._run("release", *args)
        if released:
            self.notify_jobs()
        return released

    async def get_job(self, job_id: str) -> Job | None:
        async with mapped_errors("get_job"):
            flat = await self._client.hgetall(f"{self._ns}:j:{job_id}")
        if not flat:
            return None
        return decode_job(job_id, [x for kv in flat.items() for x in kv])

    async def list_jobs(self, flt: JobFilter) -> list[Job]:
        found: list[Job] = []
        after = flt.after_id or ""
        while len(found) < flt.limit:
            rows = await self._run(
                "list",
                after,
                _LIST_BUDGET,
                flt.limit - len(found),
                "" if flt.status is None else flt.status.value,
                flt.queue or "",
                flt.task or "",
                flt.schedule_id or "",
            )
            found += decode_jobs(rows[1:])
            if not rows[0]:
                break
            after = rows[0].decode()
        return found[: flt.limit]

    async def get_attempts(self, job_id: str) -> list[Attempt]:
        async with mapped_errors("get_attempts"):
            raw = await self._client.lrange(f"{self._ns}:a:{job_id}", 0, -1)
        return sorted((decode_attempt(job_id, r) for r in raw), key=lambda a: a.number)

    async def cancel(self, job_id: str, *, now: datetime) -> Job:
        return self._outcome(job_id, "cancel", await self._run("cancel", to_ms(now), job_id))

    async def requeue(self, job_id: str, *, now: datetime) -> Job:
        reply = await self._run("requeue", to_ms(now), job_id)
        job = self._outcome(job_id, "requeue", reply)
        self.notify_jobs()
        return job

    @staticmethod
    def _outcome(job_id: str, what: str, reply: list[Any]) -> Job:
        code = reply[0]
        if code == b"missing":
            raise JobNotFound(f"no job {job_id}")
        if code == b"state":
            raise InvalidState(f"cannot {what} job {job_id}: it is {reply[1].decode()}")
        return decode_job(job_id, reply[1])

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
        # one bounded page of the finished index per script call, so a purge that skips many
        # jobs of other statuses never blocks the server for long
        purged = skip = 0
        while purged < limit:
            deleted, kept, seen = await self._run(
                "purge", to_ms(finished_before), limit - purged, skip, ",".join(wanted), PURGE_PAGE
            )
            purged += int(deleted)
            skip += int(kept)
            if int(seen) < PURGE_PAGE or int(deleted) + int(kept) < int(seen):
                break
        return purged

    async def stats(self, *, now: datetime | None = None) -> QueueStats:
        async with mapped_errors("stats"):
            raw = await self._client.hgetall(f"{self._ns}:cnt")
        out = QueueStats()
        for field, value in raw.items():
            status, _, queue = field.decode().partition("|")
            out.counts.setdefault(queue, {})[JobStatus(status)] = int(value)
        if now is not None:
            pending = [q for q, c in out.counts.items() if c.get(JobStatus.PENDING)]
            if pending:
                counts = await self._run("count_delayed", to_ms(now), len(pending), *pending)
                out.delayed = {q: int(n) for q, n in zip(pending, counts, strict=True) if int(n)}
        return out

    async def next_due(self, *, queues: Sequence[str]) -> datetime | None:
        if not queues:
            return None
        ms = await self._run("next_due", len(queues), *queues)
        return None if ms is None else from_ms(ms)
