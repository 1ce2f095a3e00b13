"""The four parts every backend is built from: jobs, schedules, named leases and live workers.

``Store`` (base.py) owns the contract: each public method checks that the store is open and
that its arguments are in range, then calls one method of a part. A part therefore receives
arguments already checked and normalised, as stated per method below, and implements only
what differs between backends. The contract of each operation is the docstring of the
``Store`` method of the same name; a part adds nothing to it but the shape of its answer.

A backend's parts share one small object (its connection: a pool, a client, a database
thread...) handed to each part's constructor; parts that need each other (a commit inserts
jobs; a fenced write reads a lease) are given each other explicitly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rota._models import (
    AddResult,
    Attempt,
    Fence,
    Finish,
    FinishedCount,
    FireCommit,
    Job,
    JobFilter,
    Lease,
    LeaseRef,
    Progress,
    QueueStats,
    Schedule,
    WorkerInfo,
)


class JobsPart(ABC):
    """Jobs and their attempts. ``queues`` arrive de-duplicated and non-empty, every
    ``limit`` is at least 1, ``until`` (``now`` + the lease length) is later than ``now``,
    and batches (``jobs``, ``leases``, ``results``) are non-empty."""

    @abstractmethod
    async def add(self, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
        """``Store.add``; the jobs are pending, with due_at and created_at set and distinct ids."""

    @abstractmethod
    async def claim(
        self, queues: list[str], worker: str, limit: int, until: datetime, now: datetime
    ) -> list[Job]:
        """``Store.claim``; claimed leases expire at ``until``."""

    @abstractmethod
    async def heartbeat(self, leases: Sequence[LeaseRef], until: datetime, now: datetime) -> list[str]:
        """``Store.heartbeat``; kept leases now expire at ``until``."""

    @abstractmethod
    async def finish(self, results: Sequence[Finish], worker: str, now: datetime) -> list[bool]:
        """``Store.finish``."""

    @abstractmethod
    async def release(self, leases: Sequence[LeaseRef], now: datetime) -> int:
        """``Store.release``."""

    @abstractmethod
    async def set_progress(self, lease: LeaseRef, progress: Progress, now: datetime) -> bool:
        """``Store.set_progress``."""

    @abstractmethod
    async def get(self, job_id: str) -> Job | None:
        """``Store.get_job``."""

    @abstractmethod
    async def find(self, flt: JobFilter) -> list[Job]:
        """``Store.list_jobs``; ``flt.limit`` is at least 1."""

    @abstractmethod
    async def attempts(self, job_id: str) -> list[Attempt]:
        """``Store.get_attempts``."""

    @abstractmethod
    async def cancel(self, job_id: str, now: datetime) -> Job:
        """``Store.cancel``."""

    @abstractmethod
    async def requeue(self, job_id: str, now: datetime) -> Job:
        """``Store.requeue``."""

    @abstractmethod
    async def purge(self, finished_before: datetime, limit: int, statuses: list[str]) -> int:
        """``Store.purge``; ``statuses`` is a non-empty list of final status values."""

    @abstractmethod
    async def stats(self, now: datetime | None) -> QueueStats:
        """``Store.stats``."""

    @abstractmethod
    async def next_due(self, queues: list[str]) -> datetime | None:
        """``Store.next_due``."""

    @abstractmethod
    async def count_finished(
        self, since: datetime, until: datetime, bucket: timedelta
    ) -> list[FinishedCount]:
        """``Store.count_finished``; ``since < until``, both whole milliseconds, and ``bucket``
        a positive whole number of milliseconds."""


class SchedulesPart(ABC):
    """Schedules and the commit of a scheduler pass."""

    @abstractmethod
    async def put(self, schedule: Schedule, now: datetime) -> tuple[Schedule, bool]:
        """``Store.put_schedule``; also whether anything was written."""

    @abstractmethod
    async def get(self, schedule_id: str) -> Schedule | None:
        """``Store.get_schedule``."""

    @abstractmethod
    async def all(self) -> list[Schedule]:
        """``Store.list_schedules``."""

    @abstractmethod
    async def remove(self, schedule_id: str) -> bool:
        """``Store.remove_schedule``."""

    @abstractmethod
    async def set_paused(
        self, schedule_id: str, paused: bool, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        """``Store.set_schedule_paused``."""

    @abstractmethod
    async def acquire(
        self, owner: str, limit: int, until: datetime, now: datetime, fence: Fence | None
    ) -> list[Schedule]:
        """``Store.acquire_schedules``; ``limit`` is at least 1; leases expire at ``until``."""

    @abstractmethod
    async def commit(self, commit: FireCommit, now: datetime) -> tuple[bool, int]:
        """``Store.commit_fires``; also how many jobs it created. The jobs are checked as for
        ``JobsPart.add``."""

    @abstractmethod
    async def next_due(self) -> datetime | None:
        """``Store.next_schedule_due``."""


class LeasesPart(ABC):
    """Named leases (leader election, locks); ``until`` is ``now`` + the ttl, later than ``now``."""

    @abstractmethod
    async def acquire(self, name: str, owner: str, until: datetime, now: datetime) -> Lease | None:
        """``Store.acquire_lease``."""

    @abstractmethod
    async def renew(self, name: str, owner: str, token: int, until: datetime, now: datetime) -> Lease | None:
        """``Store.renew_lease``."""

    @abstractmethod
    async def release(self, name: str, owner: str, token: int, now: datetime) -> bool:
        """``Store.release_lease``."""

    @abstractmethod
    async def get(self, name: str, now: datetime) -> Lease | None:
        """``Store.get_lease``."""

    @abstractmethod
    async def all(self, now: datetime) -> list[Lease]:
        """``Store.list_leases``."""


class WorkersPart(ABC):
    """The registry of live workers; ``until`` is ``now`` + the ttl, later than ``now``."""

    @abstractmethod
    async def register(self, info: WorkerInfo, until: datetime, now: datetime) -> WorkerInfo:
        """``Store.register_worker``."""

    @abstractmethod
    async def live(self, now: datetime) -> list[WorkerInfo]:
        """``Store.list_workers``."""

    @abstractmethod
    async def remove(self, worker_id: str) -> bool:
        """``Store.unregister_worker``."""


@dataclass(frozen=True, slots=True)
class Parts:
    """What an open store works with; ``Store._open`` builds it."""

    jobs: JobsPart
    schedules: SchedulesPart
    leases: LeasesPart
    workers: WorkersPart
