"""``SQLiteStore``: the embedded default store, safe for several processes on one host.

One connection per store instance, owned by one dedicated thread (_connection.py); each call
is one hop to that thread and (for writes) one ``BEGIN IMMEDIATE`` transaction. SQLite cannot
wake other processes: a waiter watches ``PRAGMA data_version`` instead (_wakeups.py), so a
job another process adds is picked up within a few milliseconds.
"""

from __future__ import annotations

import os
from datetime import timedelta

from rota.stores._parts import Parts
from rota.stores.base import Store
from rota.stores.sqlite._config import SQLiteConfig
from rota.stores.sqlite._connection import SQLiteConnection
from rota.stores.sqlite._jobs import SQLiteJobs
from rota.stores.sqlite._leases import SQLiteLeases
from rota.stores.sqlite._migrate import migrate
from rota.stores.sqlite._schedules import SQLiteSchedules
from rota.stores.sqlite._wakeups import DataVersionWatch
from rota.stores.sqlite._workers import SQLiteWorkers


class SQLiteStore(Store):
    """A store in one SQLite file (WAL mode). ``path`` may be ``":memory:"`` for a private
    database that lives as long as this instance (not shared with anything); a
    ``SQLiteConfig`` may stand for the path and options."""

    kind = "sqlite"
    # a waiter hears other processes' commits through data_version (_wakeups.py): the
    # poll is only a backstop
    poll_interval = 1.0

    def __init__(
        self,
        path: SQLiteConfig | str | os.PathLike[str] = "rota.db",
        *,
        busy_timeout: float | timedelta = 5.0,
        synchronous: str = "normal",
    ) -> None:
        super().__init__()
        if isinstance(path, SQLiteConfig):
            self.config = path
        else:
            if isinstance(busy_timeout, timedelta):
                busy_timeout = busy_timeout.total_seconds()
            self.config = SQLiteConfig(os.fspath(path), float(busy_timeout), str(synchronous).lower())
        self.shared = not self.config.in_memory
        self._connection = SQLiteConnection(self.config)
        db = self._connection
        jobs, schedules, leases = SQLiteJobs(db, self.notify_jobs), SQLiteSchedules(db), SQLiteLeases(db)
        self._ready = Parts(jobs=jobs, schedules=schedules, leases=leases, workers=SQLiteWorkers(db))
        self._watch: DataVersionWatch | None = None  # while open (a file, not :memory:)

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        return cls(SQLiteConfig.from_url(url))

    def describe(self) -> str:
        return self.config.describe()

    async def _open(self) -> Parts:
        await self._connection.open(migrate)
        if self.shared:
            self._watch = DataVersionWatch(self.config)
        return self._ready

    async def _close(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()
        await self._connection.close()

    async def wait_for_jobs(self, timeout: float) -> bool:
        """Also woken by a commit of another process (or connection) to the file: any
        commit, so a wake-up may be spurious (see Store.wait_for_jobs)."""
        if self._watch is None:
            return await super().wait_for_jobs(timeout)
        return await self._watch.wait(self._jobs_changed, timeout)


def from_url(url: str) -> SQLiteStore:
    """Build an unopened store from ``sqlite:///path.db?busy_timeout=5000``."""
    return SQLiteStore.from_url(url)
