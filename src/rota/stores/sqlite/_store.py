"""``SQLiteStore``: the embedded default store, safe for several processes on one host.

One connection per store instance, owned by one dedicated thread; each call is one hop to
that thread and (for writes) one ``BEGIN IMMEDIATE`` transaction. SQLite cannot wake other
processes, so wake-ups are in-process only and workers poll for the rest.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from rota._errors import ConfigError, StoreError
from rota._models import (
    AddResult,
    Attempt,
    Fence,
    Finish,
    FireCommit,
    Job,
    JobFilter,
    JobStatus,
    Lease,
    LeaseRef,
    QueueStats,
    Schedule,
)
from rota.stores.base import Store, purge_statuses
from rota.stores.sqlite import _jobs, _schedules
from rota.stores.sqlite._conn import DbThread, connect, translate
from rota.stores.sqlite._migrate import migrate
from rota.stores.sqlite._url import MEMORY, SQLiteConfig, parse_url

T = TypeVar("T")


class SQLiteStore(Store):
    """A store in one SQLite file (WAL mode). ``path`` may be ``":memory:"`` for a private
    database that lives as long as this instance (not shared with anything)."""

    kind = "sqlite"
    # SQLite cannot wake other processes: idle workers re-check this often
    poll_interval = 0.1

    def __init__(
        self,
        path: str | os.PathLike[str] = "rota.db",
        *,
        busy_timeout: float | timedelta = 5.0,
        synchronous: str = "normal",
    ) -> None:
        super().__init__()
        if isinstance(busy_timeout, timedelta):
            busy_timeout = busy_timeout.total_seconds()
        self.config = SQLiteConfig(os.fspath(path), float(busy_timeout), synchronous)
        self.shared = not self.config.in_memory
        self._thread: DbThread | None = None
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        config = parse_url(url)
        return cls(config.path, busy_timeout=config.busy_timeout, synchronous=config.synchronous)

    def describe(self) -> str:
        path = self.config.path
        if path == MEMORY:
            return "sqlite (in memory)"
        return f"sqlite:///{path} (WAL)"

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._thread is not None:
            return
        thread = DbThread(f"rota-sqlite:{self.config.path}")
        try:
            self._conn = await thread.submit(self._open_sync)
        except BaseException:
            thread.stop()
            raise
        self._thread = thread

    def _open_sync(self) -> sqlite3.Connection:
        if not self.config.in_memory:
            parent = Path(self.config.path).parent
            if not parent.is_dir():
                # a wrong path is a configuration mistake, not an outage worth retrying
                raise ConfigError(
                    f"cannot create the SQLite database {self.config.path!r}: "
                    f"directory {str(parent)!r} does not exist"
                )
        try:
            conn = connect(self.config)
        except sqlite3.Error as exc:
            raise translate(exc, f"open of {self.config.path!r}") from exc
        try:
            migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, "schema migration") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        thread, conn = self._thread, self._conn
        self._thread = self._conn = None
        if thread is None:
            return
        try:
            if conn is not None:
                await thread.submit(conn.close)
        finally:
            thread.stop()

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        thread, conn = self._thread, self._conn
        if thread is None or conn is None:
            raise StoreError("the SQLite store is not open (call open() first)")
        return await thread.submit(_guarded, fn, conn, args, kwargs)

    # -- jobs ----------------------------------------------------------------------------

    async def add(self, jobs: Sequence[Job], *, now: datetime) -> list[AddResult]:
        if not jobs:
            return []
        results = await self._run(_jobs.add, jobs)
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
        return await self._run(
            _jobs.claim, queues=queues, worker=worker, limit=limit, lease_for=lease_for, now=now
        )

    async def heartbeat(
        self, leases: Sequence[LeaseRef], *, lease_for: timedelta, now: datetime
    ) -> list[str]:
        return await self._run(_jobs.heartbeat, leases, lease_for, now)

    async def finish(self, results: Sequence[Finish], *, worker: str, now: datetime) -> list[bool]:
        applied = await self._run(_jobs.finish, results, worker, now)
        if any(ok and r.retry_at is not None for ok, r in zip(applied, results, strict=True)):
            self.notify_jobs()
        return applied

    async def release(self, leases: Sequence[LeaseRef], *, now: datetime) -> int:
        released = await self._run(_jobs.release, leases, now)
        if released:
            self.notify_jobs()
        return released

    async def get_job(self, job_id: str) -> Job | None:
        return await self._run(_jobs.get_job, job_id)

    async def list_jobs(self, flt: JobFilter) -> list[Job]:
        return await self._run(_jobs.list_jobs, flt)

    async def get_attempts(self, job_id: str) -> list[Attempt]:
        return await self._run(_jobs.get_attempts, job_id)

    async def cancel(self, job_id: str, *, now: datetime) -> Job:
        return await self._run(_jobs.cancel, job_id, now)

    async def requeue(self, job_id: str, *, now: datetime) -> Job:
        job = await self._run(_jobs.requeue, job_id, now)
        self.notify_jobs()
        return job

    async def purge(
        self,
        *,
        finished_before: datetime,
        limit: int = 1000,
        statuses: Collection[JobStatus] | None = None,
    ) -> int:
        return await self._run(_jobs.purge, finished_before, limit, purge_statuses(statuses))

    async def stats(self, *, now: datetime | None = None) -> QueueStats:
        return await self._run(_jobs.stats, now)

    async def next_due(self, *, queues: Sequence[str]) -> datetime | None:
        return await self._run(_jobs.next_due, queues)

    # -- schedules -----------------------------------------------------------------------

    async def put_schedule(self, schedule: Schedule, *, now: datetime) -> Schedule:
        stored = await self._run(_schedules.put_schedule, schedule, now)
        self.notify_schedules()
        return stored

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        return await self._run(_schedules.get_schedule, schedule_id)

    async def list_schedules(self) -> list[Schedule]:
        return await self._run(_schedules.list_schedules)

    async def remove_schedule(self, schedule_id: str) -> bool:
        removed = await self._run(_schedules.remove_schedule, schedule_id)
        if removed:
            self.notify_schedules()
        return removed

    async def set_schedule_paused(
        self, schedule_id: str, paused: bool, *, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        stored = await self._run(_schedules.set_paused, schedule_id, paused, next_fire_at, now)
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
        return await self._run(_schedules.acquire, owner, limit, lease_for, now, fence=fence)

    async def commit_fires(self, commit: FireCommit, *, now: datetime) -> bool:
        applied, created = await self._run(_schedules.commit_fires, commit, now)
        if created:
            self.notify_jobs()
        if applied:
            self.notify_schedules()
        return applied

    async def next_schedule_due(self) -> datetime | None:
        return await self._run(_schedules.next_schedule_due)

    # -- named leases --------------------------------------------------------------------

    async def acquire_lease(self, name: str, *, owner: str, ttl: timedelta, now: datetime) -> Lease | None:
        return await self._run(_schedules.acquire_lease, name, owner, ttl, now)

    async def renew_lease(
        self, name: str, *, owner: str, token: int, ttl: timedelta, now: datetime
    ) -> Lease | None:
        return await self._run(_schedules.renew_lease, name=name, owner=owner, token=token, ttl=ttl, now=now)

    async def release_lease(self, name: str, *, owner: str, token: int, now: datetime) -> bool:
        return await self._run(_schedules.release_lease, name, owner, token, now)

    async def get_lease(self, name: str, *, now: datetime) -> Lease | None:
        return await self._run(_schedules.get_lease, name, now)


def _guarded(
    fn: Callable[..., T], conn: sqlite3.Connection, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    """Runs on the store thread: driver errors become rota's (StoreUnavailable when transient)."""
    try:
        return fn(conn, *args, **kwargs)
    except sqlite3.Error as exc:
        raise translate(exc, getattr(fn, "__name__", "call")) from exc


def from_url(url: str) -> SQLiteStore:
    """Build an unopened store from ``sqlite:///path.db?busy_timeout=5000``."""
    return SQLiteStore.from_url(url)
