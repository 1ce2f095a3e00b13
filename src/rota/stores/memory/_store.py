"""``MemoryStore``: every method runs to completion without awaiting, so on one event loop
each call is atomic; callers get copies, never the stored objects."""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from rota._errors import ConfigError, InvalidState, JobNotFound
from rota._models import (
    FINAL_STATUSES,
    AddResult,
    Attempt,
    ErrorInfo,
    Fence,
    Finish,
    FireCommit,
    Job,
    JobFilter,
    JobStatus,
    Lease,
    LeaseRef,
    Outcome,
    QueueStats,
    Schedule,
)
from rota.stores._salvage import checked
from rota.stores.base import Store
from rota.stores.memory._claim_index import ClaimIndex
from rota.stores.memory._schedules import ScheduleBook


class MemoryStore(Store):
    """All state in dicts and heaps of this process (``shared=False``), lost when it exits."""

    kind = "memory"
    shared = False

    def __init__(self) -> None:
        super().__init__()
        self._jobs: dict[str, Job] = {}
        self._ids: list[str] = []  # sorted, for list_jobs' keyset pagination
        self._keys: dict[str, str] = {}  # dedupe key -> job id
        self._attempts: dict[str, list[Attempt]] = {}
        self._index = ClaimIndex(self._jobs)
        self._counts: dict[str, dict[JobStatus, int]] = {}  # queue -> status -> n
        self._book = ScheduleBook()
        self._leases: dict[str, Lease] = {}
        self._lease_tokens: dict[str, int] = {}  # survives release/expiry: tokens never go back

    def describe(self) -> str:
        return "memory (this process only)"

    # -- jobs ----------------------------------------------------------------------------

    async def add(self, jobs: Sequence[Job], *, now: datetime) -> list[AddResult]:
        results = self._add(jobs, now)
        if any(r.created for r in results):
            self.notify_jobs()
        return results

    def _add(self, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
        # validate everything before writing anything: all or none
        seen: set[str] = set()
        for job in jobs:
            if job.due_at is None:
                raise ConfigError(f"job {job.id} has no due_at")
            if job.status is not JobStatus.PENDING:
                raise InvalidState(f"job {job.id} must be added as pending, not {job.status}")
            if job.id in self._jobs or job.id in seen:
                raise InvalidState(f"a job with id {job.id} already exists")
            seen.add(job.id)
        results: list[AddResult] = []
        for job in jobs:
            existing = self._keys.get(job.key) if job.key is not None else None
            if existing is not None:
                results.append(AddResult(job=self._jobs[existing].replace(), created=False))
                continue
            stored = job.replace(created_at=job.created_at or now)
            self._jobs[stored.id] = stored
            bisect.insort(self._ids, stored.id)
            self._attempts[stored.id] = []
            if stored.key is not None:
                self._keys[stored.key] = stored.id
            self._count(stored, +1)
            self._file(stored)
            results.append(AddResult(job=stored.replace(), created=True))
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
        names = list(dict.fromkeys(queues))
        claimed: list[Job] = []
        while len(claimed) < limit:
            job = self._index.pop_runnable(names, now)
            if job is None:
                break
            defect = None
            fixed = checked(job)
            if fixed is not job:
                # added with values no run can use: stand-ins from now on, and the claim
                # says what was wrong so that the worker fails the job
                job, defect, fixed.defect = fixed, fixed.defect, None
                self._jobs[job.id] = job
            if job.status is JobStatus.RUNNING:  # its worker vanished
                self._record(job, Outcome.LEASE_LOST, now, None)
                if job.attempts >= job.max_attempts:
                    self._end(job, JobStatus.FAILED, now, "LeaseLost: the worker stopped heartbeating")
                    continue
            self._set_status(job, JobStatus.RUNNING)
            job.lease_owner = worker
            job.lease_expires_at = now + lease_for
            job.started_at = now
            job.token += 1
            job.attempts += 1
            self._file(job)
            claimed.append(job.replace(defect=defect))
        return claimed

    async def heartbeat(
        self, leases: Sequence[LeaseRef], *, lease_for: timedelta, now: datetime
    ) -> list[str]:
        lost: list[str] = []
        for ref in leases:
            job = self._running(ref.job_id, ref.token)
            if job is None or job.lease_expires_at is None or job.lease_expires_at <= now:
                lost.append(ref.job_id)
                continue
            job.lease_expires_at = now + lease_for
            self._file(job)
        return lost

    async def finish(self, results: Sequence[Finish], *, worker: str, now: datetime) -> list[bool]:
        applied: list[bool] = []
        for res in results:
            job = self._running(res.job_id, res.token)
            if job is None or (res.fence is not None and not self._fence_ok(res.fence, now)):
                applied.append(False)
                continue
            self._record(job, res.outcome, now, res.error, worker=worker)
            job.result = res.result
            if res.error is not None:
                job.last_error = res.error.summary()
            status = res.final_status
            if status is JobStatus.PENDING:
                self._set_status(job, JobStatus.PENDING)
                job.lease_owner = job.lease_expires_at = None
                job.due_at = res.retry_at
                self._file(job)
            else:
                self._end(job, status, now, job.last_error)
            applied.append(True)
        return applied

    async def release(self, leases: Sequence[LeaseRef], *, now: datetime) -> int:
        released = 0
        for ref in leases:
            job = self._running(ref.job_id, ref.token)
            if job is None:
                continue
            self._record(job, Outcome.RELEASED, now, None)
            self._set_status(job, JobStatus.PENDING)
            job.lease_owner = job.lease_expires_at = None
            job.attempts = max(0, job.attempts - 1)
            self._file(job)
            released += 1
        if released:
            self.notify_jobs()
        return released

    async def get_job(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        return checked(job.replace()) if job is not None else None

    async def list_jobs(self, flt: JobFilter) -> list[Job]:
        start = bisect.bisect_right(self._ids, flt.after_id) if flt.after_id is not None else 0
        out: list[Job] = []
        for job_id in self._ids[start:]:
            if len(out) >= flt.limit:
                break
            job = self._jobs[job_id]
            if (
                (flt.status is None or job.status is flt.status)
                and (flt.queue is None or job.queue == flt.queue)
                and (flt.task is None or job.task == flt.task)
                and (flt.schedule_id is None or job.schedule_id == flt.schedule_id)
            ):
                out.append(checked(job.replace()))
        return out

    async def get_attempts(self, job_id: str) -> list[Attempt]:
        return list(self._attempts.get(job_id, ()))

    async def cancel(self, job_id: str, *, now: datetime) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.status in FINAL_STATUSES:
            raise InvalidState(f"job {job_id} is already {job.status}")
        if job.status is JobStatus.RUNNING:
            self._record(job, Outcome.CANCELLED, now, None)
        self._end(job, JobStatus.CANCELLED, now, job.last_error)
        return job.replace()

    async def requeue(self, job_id: str, *, now: datetime) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise InvalidState(f"only failed or cancelled jobs can be requeued; {job_id} is {job.status}")
        self._set_status(job, JobStatus.PENDING)
        job.due_at = now
        job.attempts = 0
        job.finished_at = None
        job.lease_owner = job.lease_expires_at = None
        self._file(job)
        self.notify_jobs()
        return job.replace()

    async def purge(
        self,
        *,
        finished_before: datetime,
        limit: int = 1000,
        statuses: Collection[JobStatus] | None = None,
    ) -> int:
        wanted = FINAL_STATUSES if statuses is None else FINAL_STATUSES & set(statuses)
        old = [
            (job.finished_at, job.id)
            for job in self._jobs.values()
            if job.status in wanted and job.finished_at is not None and job.finished_at < finished_before
        ]
        victims = heapq.nsmallest(max(0, limit), old)
        for _, job_id in victims:
            job = self._jobs.pop(job_id)
            self._count(job, -1)
            self._index.forget(job_id)
            del self._attempts[job_id]
            del self._ids[bisect.bisect_left(self._ids, job_id)]
            if job.key is not None and self._keys.get(job.key) == job_id:
                del self._keys[job.key]
        return len(victims)

    async def stats(self, *, now: datetime | None = None) -> QueueStats:
        counts = {q: {s: n for s, n in c.items() if n} for q, c in self._counts.items()}
        delayed = self._index.delayed(now) if now is not None else {}
        return QueueStats(counts=counts, delayed=delayed)

    async def next_due(self, *, queues: Sequence[str]) -> datetime | None:
        return self._index.next_due(list(dict.fromkeys(queues)))

    # -- schedules -----------------------------------------------------------------------

    async def put_schedule(self, schedule: Schedule, *, now: datetime) -> Schedule:
        stored, written = self._book.put(schedule, now)
        if written:
            self.notify_schedules()
        return stored

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        return self._book.get(schedule_id)

    async def list_schedules(self) -> list[Schedule]:
        return self._book.all()

    async def remove_schedule(self, schedule_id: str) -> bool:
        return self._book.remove(schedule_id)

    async def set_schedule_paused(
        self, schedule_id: str, paused: bool, *, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        stored = self._book.set_paused(schedule_id, paused, next_fire_at, now)
        self.notify_schedules()
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
        if fence is not None and not self._fence_ok(fence, now):
            return []
        return self._book.acquire(owner, limit, lease_for, now, fence)

    async def commit_fires(self, commit: FireCommit, *, now: datetime) -> bool:
        if not self._book.can_commit(commit) or (
            commit.fence is not None and not self._fence_ok(commit.fence, now)
        ):
            return False
        results = self._add(commit.jobs, now)  # raises before writing on bad input
        self._book.commit(commit, results, now)
        if any(r.created for r in results):
            self.notify_jobs()
        return True

    async def next_schedule_due(self) -> datetime | None:
        return self._book.next_due()

    # -- named leases --------------------------------------------------------------------

    async def acquire_lease(self, name: str, *, owner: str, ttl: timedelta, now: datetime) -> Lease | None:
        current = self._leases.get(name)
        if current is not None and current.expires_at > now:
            return None
        token = self._lease_tokens.get(name, 0) + 1
        self._lease_tokens[name] = token
        lease = Lease(name=name, owner=owner, token=token, acquired_at=now, expires_at=now + ttl)
        self._leases[name] = lease
        return lease

    async def renew_lease(
        self, name: str, *, owner: str, token: int, ttl: timedelta, now: datetime
    ) -> Lease | None:
        current = self._leases.get(name)
        if current is None or current.owner != owner or current.token != token:
            return None
        if current.expires_at <= now:
            return None
        lease = Lease(name, owner, token, current.acquired_at, now + ttl)
        self._leases[name] = lease
        return lease

    async def release_lease(self, name: str, *, owner: str, token: int, now: datetime) -> bool:
        current = self._leases.get(name)
        if current is None or current.owner != owner or current.token != token:
            return False
        del self._leases[name]
        return True

    async def get_lease(self, name: str, *, now: datetime) -> Lease | None:
        current = self._leases.get(name)
        return current if current is not None and current.expires_at > now else None

    # -- internals -----------------------------------------------------------------------

    def _running(self, job_id: str, token: int) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.RUNNING or job.token != token:
            return None
        return job

    def _fence_ok(self, fence: Fence, now: datetime) -> bool:
        lease = self._leases.get(fence.name)
        return (
            lease is not None
            and lease.owner == fence.owner
            and lease.token == fence.token
            and lease.expires_at > now
        )

    def _record(
        self,
        job: Job,
        outcome: Outcome,
        now: datetime,
        error: ErrorInfo | None,
        *,
        worker: str | None = None,
    ) -> None:
        self._attempts[job.id].append(
            Attempt(
                job_id=job.id,
                number=job.token,
                worker=worker if worker is not None else job.lease_owner or "",
                started_at=job.started_at or now,
                finished_at=now,
                outcome=outcome,
                error_type=error.type if error else None,
                error_message=error.message if error else None,
                traceback=error.traceback if error else None,
            )
        )

    def _end(self, job: Job, status: JobStatus, now: datetime, last_error: str | None) -> None:
        self._set_status(job, status)
        job.lease_owner = job.lease_expires_at = None
        job.finished_at = now
        job.last_error = last_error
        self._file(job)
        if status is JobStatus.FAILED and job.schedule_id is not None:
            self._book.record_failure(job.schedule_id, last_error)

    def _count(self, job: Job, delta: int) -> None:
        counts = self._counts.setdefault(job.queue, {})
        counts[job.status] = counts.get(job.status, 0) + delta

    def _set_status(self, job: Job, status: JobStatus) -> None:
        self._count(job, -1)
        job.status = status
        self._count(job, +1)

    def _file(self, job: Job) -> None:
        self._index.file(job)
