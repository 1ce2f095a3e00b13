"""Which job a claim takes next, without scanning: per-queue heaps with lazy deletion.

Pending jobs wait in ``delayed`` (by due time) and running ones in ``expiring`` (by lease
expiry). A claim first promotes whatever became runnable at ``now`` into ``ready`` (by
priority desc, due_at, id) and pops from there. Jobs with rate or concurrency limits have
heaps of their own (``ldelayed``, ``limited``), so that those the claim holds back never
stand in front of the others, and ``next_due`` can weigh their limits. Entries are never
updated in place: each carries the job's generation, bumped by ``file`` on every change of
the job, and entries of an older generation are dropped when met.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rota._models import Job, JobStatus
from rota.stores._salvage import EPOCH

_Timed = tuple[datetime, str, int]  # (time, job id, generation)
_Ready = tuple[int, datetime, str, int]  # (-priority, due_at, job id, generation)

# a heap holding this many stale entries more than live jobs is rebuilt (amortised O(1))
_COMPACT_SLACK = 1024


@dataclass(slots=True)
class _Queue:
    delayed: list[_Timed] = field(default_factory=list)  # pending, not yet seen due
    expiring: list[_Timed] = field(default_factory=list)  # running, by lease expiry
    ready: list[_Ready] = field(default_factory=list)  # runnable as of the last claim
    ready_times: list[_Timed] = field(default_factory=list)  # ``ready`` by time, for next_due
    ldelayed: list[_Timed] = field(default_factory=list)  # limited pending, not yet seen due
    limited: list[_Ready] = field(default_factory=list)  # limited, runnable as of the last claim


class ClaimIndex:
    """Orders the jobs of ``jobs`` (the store's dict, shared) for claim and next_due."""

    def __init__(self, jobs: dict[str, Job]) -> None:
        self._jobs = jobs
        self._gen: dict[str, int] = {}
        self._queues: dict[str, _Queue] = {}

    def file(self, job: Job) -> None:
        """Start a new generation for ``job`` and file it where its current state belongs."""
        gen = self._gen.get(job.id, 0) + 1
        self._gen[job.id] = gen
        q = self._queues.get(job.queue)
        if q is None:
            q = self._queues[job.queue] = _Queue()
        if job.status is JobStatus.PENDING and job.due_at is not None:
            self._push(q.ldelayed if job.limited else q.delayed, (_when(job.due_at), job.id, gen))
        elif job.status is JobStatus.RUNNING and job.lease_expires_at is not None:
            self._push(q.expiring, (_when(job.lease_expires_at), job.id, gen))

    def forget(self, job_id: str) -> None:
        del self._gen[job_id]

    def pop_runnable(self, queues: Sequence[str], now: datetime, *, limited: bool = True) -> Job | None:
        """Remove and return the best job runnable at ``now`` in ``queues`` (the caller
        changes it and calls ``file``), or None; ``limited=False`` passes over the jobs that
        have limits."""
        best: tuple[_Ready, list[_Ready]] | None = None
        for name in queues:
            q = self._queues.get(name)
            if q is None:
                continue
            self._promote(q, now)
            for heap in (q.ready, q.limited) if limited else (q.ready,):
                top = self._top_ready(q, heap, now)
                if top is not None and (best is None or top < best[0]):
                    best = (top, heap)
        if best is None:
            return None
        heapq.heappop(best[1])
        return self._jobs[best[0][2]]

    def pending_limited(self, queues: Sequence[str], at_most: int) -> tuple[list[Job], bool]:
        """Up to ``at_most`` pending jobs with limits in ``queues``, in due order, and whether
        there are more."""
        live: list[tuple[datetime, str]] = []
        for name in queues:
            q = self._queues.get(name)
            if q is None:
                continue
            live.extend((e[0], e[1]) for e in q.ldelayed if self._gen.get(e[1]) == e[2])
            for e in q.limited:
                if self._gen.get(e[2]) == e[3] and self._jobs[e[2]].status is JobStatus.PENDING:
                    live.append((e[1], e[2]))
        first = heapq.nsmallest(at_most + 1, live)
        return [self._jobs[job_id] for _, job_id in first[:at_most]], len(first) > at_most

    def next_due(self, queues: Sequence[str]) -> datetime | None:
        times: list[datetime] = []
        for name in queues:
            q = self._queues.get(name)
            if q is None:
                continue
            for heap in (q.delayed, q.expiring, q.ready_times):
                while heap and self._gen.get(heap[0][1]) != heap[0][2]:
                    heapq.heappop(heap)
                if heap:
                    times.append(heap[0][0])
        return min(times, default=None)

    def delayed(self, now: datetime) -> dict[str, int]:
        """Per queue, pending jobs due after ``now``: the live entries of the queue's heaps of
        pending jobs (not every job)."""
        out: dict[str, int] = {}
        for name, q in self._queues.items():
            ids = {e[1] for heap in (q.delayed, q.ldelayed) for e in heap if self._gen.get(e[1]) == e[2]}
            ids.update(e[2] for heap in (q.ready, q.limited) for e in heap if self._gen.get(e[2]) == e[3])
            n = 0
            for job_id in ids:
                job = self._jobs[job_id]
                if job.status is JobStatus.PENDING and job.due_at is not None and job.due_at > now:
                    n += 1
            if n:
                out[name] = n
        return out

    def _push(self, heap: list[_Timed], entry: _Timed) -> None:
        heapq.heappush(heap, entry)
        if len(heap) > 2 * len(self._jobs) + _COMPACT_SLACK:
            heap[:] = [e for e in heap if self._gen.get(e[1]) == e[2]]
            heapq.heapify(heap)

    def _promote(self, q: _Queue, now: datetime) -> None:
        for heap in (q.delayed, q.expiring, q.ldelayed):
            while heap and heap[0][0] <= now:
                when, job_id, gen = heapq.heappop(heap)
                if self._gen.get(job_id) != gen:
                    continue
                job = self._jobs[job_id]
                entry = (-_rank(job.priority), _when(job.due_at), job_id, gen)
                heapq.heappush(q.limited if job.limited else q.ready, entry)
                if heap is not q.ldelayed:
                    # (a pending limited job may be held back: next_due weighs its limits)
                    self._push(q.ready_times, (when, job_id, gen))
        for ready in (q.ready, q.limited):
            if len(ready) > 2 * len(self._jobs) + _COMPACT_SLACK:
                ready[:] = [e for e in ready if self._gen.get(e[2]) == e[3]]
                heapq.heapify(ready)

    def _top_ready(self, q: _Queue, ready: list[_Ready], now: datetime) -> _Ready | None:
        """The best runnable entry of ``ready``, dropping stale ones on the way."""
        while ready:
            top = ready[0]
            job_id, gen = top[2], top[3]
            if self._gen.get(job_id) != gen:
                heapq.heappop(ready)
                continue
            job = self._jobs[job_id]
            when = job.due_at if job.status is JobStatus.PENDING else job.lease_expires_at
            if when is not None:
                when = _when(when)
            if when is not None and when <= now:
                return top
            # a caller's clock went back: not runnable yet after all
            heapq.heappop(ready)
            if when is not None:
                if job.status is not JobStatus.PENDING:
                    back = q.expiring
                else:
                    back = q.ldelayed if job.limited else q.delayed
                self._push(back, (when, job_id, gen))
        return None


# A job added with values no run can use (by a direct ``Store.add``: the App refuses them)
# is ordered as priority 0, due now, so that a claim hands it to a worker that fails it.


def _rank(priority: object) -> int:
    return priority if type(priority) is int else 0


def _when(value: object) -> datetime:
    return value if isinstance(value, datetime) and value.tzinfo is not None else EPOCH
