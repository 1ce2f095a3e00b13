"""The in-process store (``memory://``): a real implementation of the ``Store`` contract.

State lives in this process only (``shared=False``) and is lost when it exits. Every method
runs to completion without awaiting, so on one event loop each call is atomic.

Claim order is kept in per-queue heaps rather than by scanning: pending jobs wait in
``delayed`` (by due time) and running ones in ``expiring`` (by lease expiry); a claim first
promotes whatever became runnable at ``now`` into ``ready`` (by priority desc, due_at, id)
and pops from there. Heap entries are never updated in place: each carries the job's
generation, bumped on every change, and entries of an older generation are dropped when met.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from rota._errors import ConfigError, InvalidState, JobNotFound, ScheduleNotFound
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
from rota.stores.base import Store

_Timed = tuple[datetime, str, int]  # (time, job id, generation)
_Ready = tuple[int, datetime, str, int]  # (-priority, due_at, job id, generation)

# a heap holding this many stale entries more than live jobs is rebuilt (amortised O(1))
_COMPACT_SLACK = 1024


@dataclass(slots=True)
class _QueueIndex:
    delayed: list[_Timed] = field(default_factory=list)  # pending, not yet seen due
    expiring: list[_Timed] = field(default_factory=list)  # running, by lease expiry
    ready: list[_Ready] = field(default_factory=list)  # runnable as of the last claim
    ready_times: list[_Timed] = field(default_factory=list)  # ``ready`` by due time, for next_due
    counts: dict[JobStatus, int] = field(default_factory=dict)


class MemoryStore(Store):
    """All state in dicts and heaps of this process; see the module docstring."""

    kind = "memory"
    shared = False

    def __init__(self) -> None:
        super().__init__()
        self._jobs: dict[str, Job] = {}
        self._gen: dict[str, int] = {}
        self._ids: list[str] = []  # sorted, for list_jobs' keyset pagination
        self._keys: dict[str, str] = {}  # dedupe key -> job id
        self._attempts: dict[str, list[Attempt]] = {}
        self._queues: dict[str, _QueueIndex] = {}
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
            self._index(stored)
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
        indexes = [self._queues[q] for q in dict.fromkeys(queues) if q in self._queues]
        for qi in indexes:
            self._promote(qi, now)
        claimed: list[Job] = []
        while len(claimed) < limit:
            best: tuple[_Ready, _QueueIndex] | None = None
            for qi in indexes:
                top = self._top_ready(qi, now)
                if top is not None and (best is None or top < best[0]):
                    best = (top, qi)
            if best is None:
                break
            heapq.heappop(best[1].ready)
            job = self._jobs[best[0][2]]
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
            self._index(job)
            claimed.append(job.replace())
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
            self._index(job)
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
                self._index(job)
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
            self._set_status(job, JobStatus.PENDING)
            job.lease_owner = job.lease_expires_at = None
            job.attempts = max(0, job.attempts - 1)
            self._index(job)
            released += 1
        if released:
            self.notify_jobs()
        return released

    async def get_job(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        return job.replace() if job is not None else None

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
                out.append(job.replace())
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
        self._index(job)
        self.notify_jobs()
        return job.replace()

    async def purge(self, *, finished_before: datetime, limit: int = 1000) -> int:
        old = [
            (job.finished_at, job.id)
            for job in self._jobs.values()
            if job.status in FINAL_STATUSES
            and job.finished_at is not None
            and job.finished_at < finished_before
        ]
        victims = heapq.nsmallest(max(0, limit), old)
        for _, job_id in victims:
            job = self._jobs.pop(job_id)
            self._count(job, -1)
            del self._gen[job_id]
            del self._attempts[job_id]
            del self._ids[bisect.bisect_left(self._ids, job_id)]
            if job.key is not None and self._keys.get(job.key) == job_id:
                del self._keys[job.key]
        return len(victims)

    async def stats(self) -> QueueStats:
        return QueueStats(
            counts={q: {s: n for s, n in qi.counts.items() if n} for q, qi in self._queues.items()}
        )

    async def next_due(self, *, queues: Sequence[str]) -> datetime | None:
        times: list[datetime] = []
        for q in dict.fromkeys(queues):
            qi = self._queues.get(q)
            if qi is None:
                continue
            for heap in (qi.delayed, qi.expiring, qi.ready_times):
                self._drop_stale(heap)
                if heap:
                    times.append(heap[0][0])
        return min(times, default=None)

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
        self, *, owner: str, limit: int, lease_for: timedelta, now: datetime
    ) -> list[Schedule]:
        return self._book.acquire(owner, limit, lease_for, now)

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
        self._index(job)
        if status is JobStatus.FAILED and job.schedule_id is not None:
            self._book.record_failure(job.schedule_id, last_error)

    def _queue(self, name: str) -> _QueueIndex:
        qi = self._queues.get(name)
        if qi is None:
            qi = self._queues[name] = _QueueIndex()
        return qi

    def _count(self, job: Job, delta: int) -> None:
        counts = self._queue(job.queue).counts
        counts[job.status] = counts.get(job.status, 0) + delta

    def _set_status(self, job: Job, status: JobStatus) -> None:
        self._count(job, -1)
        job.status = status
        self._count(job, +1)

    def _index(self, job: Job) -> None:
        """Start a new generation for ``job`` and file it where its new state belongs."""
        gen = self._gen.get(job.id, 0) + 1
        self._gen[job.id] = gen
        qi = self._queue(job.queue)
        if job.status is JobStatus.PENDING and job.due_at is not None:
            self._push(qi.delayed, (job.due_at, job.id, gen))
        elif job.status is JobStatus.RUNNING and job.lease_expires_at is not None:
            self._push(qi.expiring, (job.lease_expires_at, job.id, gen))

    def _push(self, heap: list[_Timed], entry: _Timed) -> None:
        heapq.heappush(heap, entry)
        if len(heap) > 2 * len(self._jobs) + _COMPACT_SLACK:
            heap[:] = [e for e in heap if self._gen.get(e[1]) == e[2]]
            heapq.heapify(heap)

    def _drop_stale(self, heap: list[_Timed]) -> None:
        while heap and self._gen.get(heap[0][1]) != heap[0][2]:
            heapq.heappop(heap)

    def _promote(self, qi: _QueueIndex, now: datetime) -> None:
        for heap in (qi.delayed, qi.expiring):
            while heap and heap[0][0] <= now:
                when, job_id, gen = heapq.heappop(heap)
                if self._gen.get(job_id) != gen:
                    continue
                job = self._jobs[job_id]
                assert job.due_at is not None
                heapq.heappush(qi.ready, (-job.priority, job.due_at, job_id, gen))
                self._push(qi.ready_times, (when, job_id, gen))
        if len(qi.ready) > 2 * len(self._jobs) + _COMPACT_SLACK:
            qi.ready[:] = [e for e in qi.ready if self._gen.get(e[2]) == e[3]]
            heapq.heapify(qi.ready)

    def _top_ready(self, qi: _QueueIndex, now: datetime) -> _Ready | None:
        """The best runnable entry of ``qi.ready``, dropping stale ones on the way."""
        while qi.ready:
            top = qi.ready[0]
            job_id, gen = top[2], top[3]
            if self._gen.get(job_id) != gen:
                heapq.heappop(qi.ready)
                continue
            job = self._jobs[job_id]
            when = job.due_at if job.status is JobStatus.PENDING else job.lease_expires_at
            if when is not None and when <= now:
                return top
            # a caller's clock went back: not runnable yet after all
            heapq.heappop(qi.ready)
            if when is not None:
                back = qi.delayed if job.status is JobStatus.PENDING else qi.expiring
                self._push(back, (when, job_id, gen))
        return None


class ScheduleBook:
    """The schedules of a ``MemoryStore``, with a heap of when each may next be acquired.

    Heap entries carry the schedule's version; any write bumps it, so older entries are
    dropped when met. A leased schedule is filed at ``max(next_fire_at, lease expiry)``.
    """

    def __init__(self) -> None:
        self._items: dict[str, Schedule] = {}
        self._heap: list[tuple[datetime, str, int]] = []

    def get(self, schedule_id: str) -> Schedule | None:
        s = self._items.get(schedule_id)
        return s.replace() if s is not None else None

    def all(self) -> list[Schedule]:
        return [self._items[k].replace() for k in sorted(self._items)]

    def remove(self, schedule_id: str) -> bool:
        return self._items.pop(schedule_id, None) is not None

    def put(self, schedule: Schedule, now: datetime) -> tuple[Schedule, bool]:
        """Returns the stored schedule and whether anything was written."""
        current = self._items.get(schedule.id)
        if current is None:
            stored = schedule.replace(version=1, created_at=schedule.created_at or now, updated_at=now)
        elif current.same_definition(schedule):
            return current.replace(), False
        else:
            changes = {f: getattr(schedule, f) for f in Schedule.DEFINITION_FIELDS}
            if schedule.trigger != current.trigger:
                changes["next_fire_at"] = schedule.next_fire_at
            stored = current.replace(**changes)
            stored.lease_owner = stored.lease_expires_at = None
            stored.version = current.version + 1
            stored.updated_at = now
        self._save(stored)
        return stored.replace(), True

    def set_paused(
        self, schedule_id: str, paused: bool, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        s = self._items.get(schedule_id)
        if s is None:
            raise ScheduleNotFound(schedule_id)
        s.paused = paused
        if not paused and next_fire_at is not None:
            s.next_fire_at = next_fire_at
        s.lease_owner = s.lease_expires_at = None
        s.version += 1
        s.updated_at = now
        self._save(s)
        return s.replace()

    def acquire(self, owner: str, limit: int, lease_for: timedelta, now: datetime) -> list[Schedule]:
        due: list[Schedule] = []
        while self._heap and self._heap[0][0] <= now:
            _, sid, version = heapq.heappop(self._heap)
            s = self._items.get(sid)
            if s is not None and s.version == version:
                due.append(s)
        due.sort(key=lambda s: (s.next_fire_at, s.id))
        taken, rest = due[: max(0, limit)], due[max(0, limit) :]
        for s in rest:  # still due: file them again unchanged
            self._file(s)
        for s in taken:
            s.lease_owner = owner
            s.lease_expires_at = now + lease_for
            s.version += 1
            s.updated_at = now
            self._file(s)
        return [s.replace() for s in taken]

    def can_commit(self, commit: FireCommit) -> bool:
        s = self._items.get(commit.schedule_id)
        return s is not None and s.version == commit.version and s.lease_owner == commit.owner

    def commit(self, commit: FireCommit, results: Sequence[AddResult], now: datetime) -> None:
        s = self._items[commit.schedule_id]
        s.next_fire_at = commit.next_fire_at
        s.last_fire_at = commit.last_fire_at
        s.run_count += sum(1 for r in results if r.created)
        if results:
            s.last_job_id = results[-1].job.id
        s.lease_owner = s.lease_expires_at = None
        s.version += 1
        s.updated_at = now
        self._file(s)

    def record_failure(self, schedule_id: str, error: str | None) -> None:
        # statistics only: the version stays, so an in-flight scheduler commit still applies
        s = self._items.get(schedule_id)
        if s is not None:
            s.fail_count += 1
            s.last_error = error

    def next_due(self) -> datetime | None:
        while self._heap:
            _, sid, version = self._heap[0]
            s = self._items.get(sid)
            if s is not None and s.version == version:
                return self._heap[0][0]
            heapq.heappop(self._heap)
        return None

    def _save(self, s: Schedule) -> None:
        self._items[s.id] = s
        self._file(s)

    def _file(self, s: Schedule) -> None:
        if s.paused or s.next_fire_at is None:
            return
        when = s.next_fire_at
        if s.lease_expires_at is not None and s.lease_expires_at > when:
            when = s.lease_expires_at
        heapq.heappush(self._heap, (when, s.id, s.version))
        if len(self._heap) > 2 * len(self._items) + _COMPACT_SLACK:
            self._heap[:] = [e for e in self._heap if (x := self._items.get(e[1])) and x.version == e[2]]
            heapq.heapify(self._heap)


def from_url(url: str) -> MemoryStore:
    """``memory://`` (nothing else is accepted: the store has no host, path or options)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "memory" or parts.netloc or parts.path or parts.query:
        raise ConfigError(
            f"the memory store URL takes no host, path or options: use 'memory://', not {url!r}"
        )
    return MemoryStore()
