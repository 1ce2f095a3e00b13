"""The schedules of a ``MemoryStore``: ``ScheduleBook`` keeps them (with the heap of when
each may next be acquired), ``MemorySchedules`` is the store's part over it."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from rota._errors import ScheduleNotFound
from rota._models import AddResult, Fence, FireCommit, Job, Schedule
from rota.stores._parts import SchedulesPart
from rota.stores.memory._codec import copy_schedule
from rota.stores.memory._leases import MemoryLeases


class JobInserter(Protocol):
    """What a fire commit needs of the jobs part (which imports this module: a failed job
    counts on its schedule's book), without importing it back."""

    def insert(self, jobs: Sequence[Job], now: datetime) -> list[AddResult]: ...


# a heap holding this many stale entries more than live schedules is rebuilt (amortised O(1))
_COMPACT_SLACK = 1024


class ScheduleBook:
    """The schedules of a ``MemoryStore``, with a heap of when each may next be acquired.

    Heap entries carry the schedule's version; any write bumps it, so older entries are
    dropped when met. A leased schedule is filed at ``max(next_fire_at, lease expiry)``; the
    ones leased under a leader's term are also listed apart, so a later term finds them
    before their lease expires.
    """

    def __init__(self) -> None:
        self._items: dict[str, Schedule] = {}
        self._heap: list[tuple[datetime, str, int]] = []
        self._fenced: set[str] = set()  # ids leased under a fence (few: one pass's worth)

    def get(self, schedule_id: str) -> Schedule | None:
        s = self._items.get(schedule_id)
        return copy_schedule(s) if s is not None else None

    def all(self) -> list[Schedule]:
        return [copy_schedule(self._items[k]) for k in sorted(self._items)]

    def remove(self, schedule_id: str) -> bool:
        self._fenced.discard(schedule_id)
        return self._items.pop(schedule_id, None) is not None

    def put(self, schedule: Schedule, now: datetime) -> tuple[Schedule, bool]:
        """Returns the stored schedule and whether anything was written."""
        current = self._items.get(schedule.id)
        if current is None:
            stored = schedule.replace(version=1, created_at=schedule.created_at or now, updated_at=now)
        elif current.same_definition(schedule):
            return copy_schedule(current), False
        else:
            changes = {f: getattr(schedule, f) for f in Schedule.DEFINITION_FIELDS}
            if schedule.trigger != current.trigger:
                changes["next_fire_at"] = schedule.next_fire_at
            stored = current.replace(**changes)
            self._unlease(stored)
            stored.version = current.version + 1
            stored.updated_at = now
        self._save(stored)
        return copy_schedule(stored), True

    def set_paused(
        self, schedule_id: str, paused: bool, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        s = self._items.get(schedule_id)
        if s is None:
            raise ScheduleNotFound(schedule_id)
        s.paused = paused
        if not paused and next_fire_at is not None:
            s.next_fire_at = next_fire_at
        self._unlease(s)
        s.version += 1
        s.updated_at = now
        self._save(s)
        return copy_schedule(s)

    def acquire(
        self, owner: str, limit: int, until: datetime, now: datetime, fence: Fence | None
    ) -> list[Schedule]:
        due: list[Schedule] = []
        while self._heap and self._heap[0][0] <= now:
            _, sid, version = heapq.heappop(self._heap)
            s = self._items.get(sid)
            if s is not None and s.version == version:
                due.append(s)
        popped = {s.id for s in due}
        if fence is not None:
            # leased by an ended term: due now (their heap entries go stale with the version)
            for sid in self._fenced:
                s = self._items[sid]
                if sid not in popped and _older_term(s, fence, now):
                    due.append(s)
        due.sort(key=lambda s: (s.next_fire_at, s.id))
        taken, rest = due[:limit], due[limit:]
        for s in rest:  # still due: file them again unchanged (taken-over ones are still filed)
            if s.id in popped:
                self._file(s)
        for s in taken:
            s.lease_owner = owner
            s.lease_expires_at = until
            s.lease_fence_name = fence.name if fence is not None else None
            s.lease_fence_token = fence.token if fence is not None else None
            if fence is not None:
                self._fenced.add(s.id)
            else:
                self._fenced.discard(s.id)
            s.version += 1
            s.updated_at = now
            self._file(s)
        return [copy_schedule(s) for s in taken]

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
        self._unlease(s)
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

    def _unlease(self, s: Schedule) -> None:
        s.lease_owner = s.lease_expires_at = s.lease_fence_name = s.lease_fence_token = None
        self._fenced.discard(s.id)

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


def _older_term(s: Schedule, fence: Fence, now: datetime) -> bool:
    """Due, and leased under an earlier term of ``fence``'s lease (whose pass cannot commit)."""
    return (
        not s.paused
        and s.next_fire_at is not None
        and s.next_fire_at <= now
        and s.lease_fence_name == fence.name
        and s.lease_fence_token is not None
        and s.lease_fence_token < fence.token
    )


class MemorySchedules(SchedulesPart):
    """The store's schedules part: ``book`` holds them; a commit adds its jobs through
    ``jobs`` in the same atomic step; fenced writes read ``leases``."""

    def __init__(self, book: ScheduleBook, jobs: JobInserter, leases: MemoryLeases) -> None:
        self._book = book
        self._jobs = jobs
        self._leases = leases

    async def put(self, schedule: Schedule, now: datetime) -> tuple[Schedule, bool]:
        return self._book.put(schedule, now)

    async def get(self, schedule_id: str) -> Schedule | None:
        return self._book.get(schedule_id)

    async def all(self) -> list[Schedule]:
        return self._book.all()

    async def remove(self, schedule_id: str) -> bool:
        return self._book.remove(schedule_id)

    async def set_paused(
        self, schedule_id: str, paused: bool, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        return self._book.set_paused(schedule_id, paused, next_fire_at, now)

    async def acquire(
        self, owner: str, limit: int, until: datetime, now: datetime, fence: Fence | None
    ) -> list[Schedule]:
        if fence is not None and not self._leases.holds(fence, now):
            return []
        return self._book.acquire(owner, limit, until, now, fence)

    async def commit(self, commit: FireCommit, now: datetime) -> tuple[bool, int]:
        if not self._book.can_commit(commit) or (
            commit.fence is not None and not self._leases.holds(commit.fence, now)
        ):
            return False, 0
        results = self._jobs.insert(commit.jobs, now)  # raises before writing on bad input
        self._book.commit(commit, results, now)
        return True, sum(1 for r in results if r.created)

    async def next_due(self) -> datetime | None:
        return self._book.next_due()
