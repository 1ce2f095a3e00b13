"""``SQLiteStore``: the embedded default store, safe for several processes on one host.

One connection per store instance, owned by one dedicated thread (_connection.py); each call
is one hop to that thread and (for writes) one ``BEGIN IMMEDIATE`` transaction. SQLite cannot
wake other processes, so wake-ups are in-process only and workers poll for the rest.
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
from rota.stores.sqlite._workers import SQLiteWorkers


class SQLiteStore(Store):
    """A store in one SQLite file (WAL mode). ``path`` may be ``":memory:"`` for a private
    database that lives as long as this instance (not shared with anything); a
    ``SQLiteConfig`` may stand for the path and options."""

    kind = "sqlite"
    # SQLite cannot wake other processes: idle workers re-check this often
    poll_interval = 0.1

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

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        return cls(SQLiteConfig.from_url(url))

    def describe(self) -> str:
        return self.config.describe()

    async def _open(self) -> Parts:
        await self._connection.open(migrate)
        return self._ready

    async def _close(self) -> None:
        await self._connection.close()


def from_url(url: str) -> SQLiteStore:
    """Build an unopened store from ``sqlite:///path.db?busy_timeout=5000``."""
    return SQLiteStore.from_url(url)
