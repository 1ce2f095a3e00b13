"""``MongoStore``: the ``Store`` contract on MongoDB (and wire-compatible servers) with
PyMongo's native async client; see docs/mongodb.md."""

from __future__ import annotations

import logging

from rota.stores._parts import Parts
from rota.stores.base import Store
from rota.stores.mongodb._config import MongoConfig
from rota.stores.mongodb._connection import MongoConnection, mapped_errors
from rota.stores.mongodb._jobs import MongoJobs
from rota.stores.mongodb._leases import MongoLeases
from rota.stores.mongodb._schedules import MongoSchedules
from rota.stores.mongodb._wakeups import POLLING, Wakeups
from rota.stores.mongodb._workers import MongoWorkers

log = logging.getLogger("rota.stores.mongodb")


class MongoStore(Store):
    """Jobs, schedules, leases and live workers in ``<prefix>_jobs``, ``_schedules``,
    ``_leases``, ``_workers`` (and ``_marks`` for compare-and-set, ``_meta`` for polled
    wake-ups) of one database."""

    kind = "mongodb"
    shared = True

    def __init__(self, config: MongoConfig) -> None:
        super().__init__()
        self.config = config
        self._connection = db = MongoConnection(config)
        p = config.prefix
        self._wakeups = Wakeups({f"{p}_jobs": self._jobs_changed, f"{p}_schedules": self._schedules_changed})
        self._leases = MongoLeases(db)
        self._schedules = MongoSchedules(db, self._wakeups, fence_ok=self._leases.holds)
        self._jobs = MongoJobs(
            db, self._wakeups, fence_ok=self._leases.holds, on_failed=self._schedules.record_failure
        )
        self._ready = Parts(
            jobs=self._jobs, schedules=self._schedules, leases=self._leases, workers=MongoWorkers(db)
        )

    async def _open(self) -> Parts:
        db = self._connection
        try:
            await db.open()
            with mapped_errors("open"):
                for part in (self._jobs, self._schedules, self._leases):
                    await part.prepare()
                await db.collection("marks").create_index([("at", 1)], name="at")
                await self._wakeups.start(db.db, db.collection("meta"), db.hello)
        except BaseException:
            await self._close()
            raise
        log.info("MongoDB store open: %s", self.describe())
        return self._ready

    async def _close(self) -> None:
        await self._wakeups.stop()
        await self._connection.close()

    def describe(self) -> str:
        mode = self._wakeups.mode if self._parts is not None else POLLING + " (not open)"
        return f"mongodb {self.config.describe()}, wake-ups: {mode}"

    async def wait_for_jobs(self, timeout: float) -> bool:
        return await self._wakeups.wait(f"{self.config.prefix}_jobs", timeout)

    async def wait_for_schedules(self, timeout: float) -> bool:
        return await self._wakeups.wait(f"{self.config.prefix}_schedules", timeout)


def from_url(url: str) -> MongoStore:
    """``mongodb://[user:pass@]host[:port][,...]/db?prefix=rota&<MongoDB URI options>``."""
    return MongoStore(MongoConfig.from_url(url))
