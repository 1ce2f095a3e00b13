"""Jobs of a ``MemoryStore``: every method runs to completion without awaiting, so on one
event loop each call is atomic."""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from rota._errors import InvalidState, JobNotFound
from rota._models import (
    FINAL_STATUSES,
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
from rota.stores._gate import NEXT_DUE_SCAN, Gate, limited_next_due, pending_of, to_us
from rota.stores._parts import JobsPart
from rota.stores._salvage import checked
from rota.stores.memory._claim_index import ClaimIndex
from rota.stores.memory._codec import copy_job, read_job
from rota.stores.memory._leases import MemoryLeases
from rota.stores.memory._schedules import ScheduleBook

LEASE_LOST_ERROR = "LeaseLost: the worker stopped heartbeating"
#: Held-back limited jobs a claim passes over, at most, before it looks at unlimited jobs only
#: (bounds a claim's cost when many jobs wait for a slot; they wait for the next claim).
HELD_SCAN = 1000


class MemoryJobs(JobsPart):
    """The jobs in dicts and heaps of this process. A scheduled job that fails is counted on
    its schedule in ``book``; fenced finishes read ``leases``; ``wake`` is called when a job
    with a concurrency key stops running (a slot is free)."""

    def __init__(
        self, leases: MemoryLeases, book: ScheduleBook, wake: Callable[[], None] = lambda: None
    ) -> None:
        self._leases = leases
        self._book = book
        self._wake = wake
        self._jobs: dict[str, Job] = {}
        self._ids: list[str] = []  # sorted, for find's keyset pagination
        self._keys: dict[str, str] = {}  # dedupe key -> job id
        self._attempts: dict[str, list[Attempt]] = {}
        self._index = ClaimIndex(self._jobs)
        self._counts: dict[str, dict[JobStatus, int]] = {}  # queue -> status -> n
        self._holders: dict[str, set[str]] = {}  # concurrency key -> ids of its running jobs
        self._buckets: dict[str, int] = {}  # rate key -> tat (see _gate.py)

    async def add(self, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
        return self.insert(jobs, now)

    def insert(self, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
        """``add``, callable inside another atomic step (a fire commit). Raises before
        writing anything."""
        for job in jobs:
            if job.id in self._jobs:
                raise InvalidState(f"a job with id {job.id} already exists")
        results: list[AddResult] = []
        for job in jobs:
            existing = self._keys.get(job.key) if job.key is not None else None
            if existing is not None:
                results.append(AddResult(job=copy_job(self._jobs[existing]), created=False))
                continue
            stored = copy_job(job)
            self._jobs[stored.id] = stored
            bisect.insort(self._ids, stored.id)
            self._attempts[stored.id] = []
            if stored.key is not None:
                self._keys[stored.key] = stored.id
            self._count(stored, +1)
            self._index.file(stored)
            results.append(AddResult(job=copy_job(stored), created=True))
        return results

    async def claim(
        self, queues: list[str], worker: str, limit: int, until: datetime, now: datetime
    ) -> list[Job]:
        claimed: list[Job] = []
        gate: Gate | None = None
        held: list[Job] = []
        while len(claimed) < limit:
            job = self._index.pop_runnable(queues, now, limited=len(held) < HELD_SCAN)
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
                    self._end(job, JobStatus.FAILED, now, LEASE_LOST_ERROR)
                    continue
            if job.limited and defect is None:
                if gate is None:
                    gate = Gate(to_us(now), lambda key: self._live(key, now), self._buckets.get)
                if not gate.admit(job):
                    if job.status is JobStatus.RUNNING:  # its lost attempt is recorded: pending again
                        self._set_status(job, JobStatus.PENDING)
                        job.lease_owner = job.lease_expires_at = None
                    held.append(job)
                    continue
            self._set_status(job, JobStatus.RUNNING)
            job.lease_owner = worker
            job.lease_expires_at = until
            job.started_at = now
            job.token += 1
            job.attempts += 1
            if job.progress_at is not None:
                job.progress = job.progress_message = job.progress_at = None
            self._index.file(job)
            out = copy_job(job)
            out.defect = defect
            claimed.append(out)
        for job in held:
            self._index.file(job)  # runnable again for the next claim
        if gate is not None:
            self._buckets.update(gate.changed())
        return claimed

    async def heartbeat(self, leases: Sequence[LeaseRef], until: datetime, now: datetime) -> list[str]:
        lost: list[str] = []
        for ref in leases:
            job = self._running(ref.job_id, ref.token)
            if job is None or job.lease_expires_at is None or job.lease_expires_at <= now:
                lost.append(ref.job_id)
                continue
            job.lease_expires_at = until
            self._index.file(job)
        return lost

    async def finish(self, results: Sequence[Finish], worker: str, now: datetime) -> list[bool]:
        applied: list[bool] = []
        for res in results:
            job = self._running(res.job_id, res.token)
            if job is None or (res.fence is not None and not self._leases.holds(res.fence, now)):
                applied.append(False)
                continue
            self._record(job, res.outcome, now, res.error, worker=worker)
            job.result = res.result
            if res.progress is not None:
                self._progress(job, res.progress, now)
            if res.error is not None:
                job.last_error = res.error.summary()
            status = res.final_status
            if status is JobStatus.PENDING:
                self._set_status(job, JobStatus.PENDING)
                job.lease_owner = job.lease_expires_at = None
                job.due_at = res.retry_at
                self._index.file(job)
            else:
                self._end(job, status, now, job.last_error)
            applied.append(True)
        return applied

    async def release(self, leases: Sequence[LeaseRef], now: datetime) -> int:
        released = 0
        for ref in leases:
            job = self._running(ref.job_id, ref.token)
            if job is None:
                continue
            self._record(job, Outcome.RELEASED, now, None)
            self._set_status(job, JobStatus.PENDING)
            job.lease_owner = job.lease_expires_at = None
            job.attempts = max(0, job.attempts - 1)
            self._index.file(job)
            released += 1
        return released

    async def set_progress(self, lease: LeaseRef, progress: Progress, now: datetime) -> bool:
        job = self._running(lease.job_id, lease.token)
        if job is None:
            return False
        self._progress(job, progress, now)
        return True

    async def get(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        return read_job(job) if job is not None else None

    async def find(self, flt: JobFilter) -> list[Job]:
        if flt.key is not None:  # one job at most: its id is known
            held = self._keys.get(flt.key)
            ids: Iterable[str] = [] if held is None else [held]
        else:
            start = bisect.bisect_right(self._ids, flt.after_id) if flt.after_id is not None else 0
            end = (
                bisect.bisect_left(self._ids, flt.before_id) if flt.before_id is not None else len(self._ids)
            )
            every = self._ids
            if flt.newest_first:
                ids = (every[i] for i in range(end - 1, start - 1, -1))
            else:
                ids = itertools.islice(every, start, max(start, end))
        out: list[Job] = []
        for job_id in ids:
            if len(out) >= flt.limit:
                break
            job = self._jobs[job_id]
            if (
                (flt.status is None or job.status is flt.status)
                and (flt.queue is None or job.queue == flt.queue)
                and (flt.task is None or job.task == flt.task)
                and (flt.schedule_id is None or job.schedule_id == flt.schedule_id)
                and (flt.after_id is None or job_id > flt.after_id)
                and (flt.before_id is None or job_id < flt.before_id)
            ):
                out.append(read_job(job))
        return out

    async def attempts(self, job_id: str) -> list[Attempt]:
        return list(self._attempts.get(job_id, ()))

    async def cancel(self, job_id: str, now: datetime) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.status in FINAL_STATUSES:
            raise InvalidState(f"job {job_id} is already {job.status}")
        if job.status is JobStatus.RUNNING:
            self._record(job, Outcome.CANCELLED, now, None)
        self._end(job, JobStatus.CANCELLED, now, job.last_error)
        return copy_job(job)

    async def requeue(self, job_id: str, now: datetime) -> Job:
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
        self._index.file(job)
        return copy_job(job)

    async def purge(self, finished_before: datetime, limit: int, statuses: list[str]) -> int:
        full = to_us(finished_before)
        for key in [k for k, tat in self._buckets.items() if tat <= full]:
            del self._buckets[key]  # full since then: the same as no bucket
        wanted = {JobStatus(s) for s in statuses}
        old = [
            (job.finished_at, job.id)
            for job in self._jobs.values()
            if job.status in wanted and job.finished_at is not None and job.finished_at < finished_before
        ]
        victims = heapq.nsmallest(limit, old)
        for _, job_id in victims:
            job = self._jobs.pop(job_id)
            self._count(job, -1)
            self._index.forget(job_id)
            del self._attempts[job_id]
            del self._ids[bisect.bisect_left(self._ids, job_id)]
            if job.key is not None and self._keys.get(job.key) == job_id:
                del self._keys[job.key]
        return len(victims)

    async def stats(self, now: datetime | None) -> QueueStats:
        counts = {q: {s: n for s, n in c.items() if n} for q, c in self._counts.items()}
        delayed = self._index.delayed(now) if now is not None else {}
        return QueueStats(counts=counts, delayed=delayed)

    async def next_due(self, queues: list[str]) -> datetime | None:
        first = self._index.next_due(queues)
        jobs, cut = self._index.pending_limited(queues, NEXT_DUE_SCAN)
        if not jobs:
            return first
        limited = limited_next_due(map(pending_of, jobs), self._holding, self._buckets.get, cut=cut)
        return limited if first is None or (limited is not None and limited < first) else first

    async def count_finished(
        self, since: datetime, until: datetime, bucket: timedelta
    ) -> list[FinishedCount]:
        # a walk over every job: the memory store keeps no index of finish times
        counts: Counter[tuple[datetime, str, JobStatus]] = Counter()
        for job in self._jobs.values():
            done = job.finished_at
            if job.status in FINAL_STATUSES and isinstance(done, datetime) and since <= done < until:
                start = since + bucket * ((done - since) // bucket)
                counts[start, job.queue, job.status] += 1
        return [FinishedCount(*k, n) for k, n in sorted(counts.items())]

    # -- internals -----------------------------------------------------------------------

    @staticmethod
    def _progress(job: Job, progress: Progress, now: datetime) -> None:
        job.progress, job.progress_message, job.progress_at = progress.fraction, progress.message, now

    def _running(self, job_id: str, token: int) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.RUNNING or job.token != token:
            return None
        return job

    def _record(
        self, job: Job, outcome: Outcome, now: datetime, error: ErrorInfo | None, *, worker: str | None = None
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
        self._index.file(job)
        if status is JobStatus.FAILED and job.schedule_id is not None:
            self._book.record_failure(job.schedule_id, last_error)

    def _count(self, job: Job, delta: int) -> None:
        counts = self._counts.setdefault(job.queue, {})
        counts[job.status] = counts.get(job.status, 0) + delta

    def _set_status(self, job: Job, status: JobStatus) -> None:
        self._count(job, -1)
        key = job.concurrency_key
        if key is not None and (job.status is JobStatus.RUNNING) is not (status is JobStatus.RUNNING):
            holders = self._holders.setdefault(key, set())
            if status is JobStatus.RUNNING:
                holders.add(job.id)
            else:
                holders.discard(job.id)
                if not holders:
                    del self._holders[key]
                self._wake()  # a slot is free
        job.status = status
        self._count(job, +1)

    def _live(self, key: str, now: datetime) -> int:
        """Jobs with this concurrency key running with an unexpired lease."""
        jobs = self._jobs
        return sum(
            1 for i in self._holders.get(key, ()) if (e := jobs[i].lease_expires_at) is not None and e > now
        )

    def _holding(self, key: str) -> tuple[int, datetime | None]:
        """Jobs with this concurrency key running (any lease), and their earliest lease expiry."""
        expiries = [
            e for i in self._holders.get(key, ()) if (e := self._jobs[i].lease_expires_at) is not None
        ]
        return len(self._holders.get(key, ())), min(expiries, default=None)
