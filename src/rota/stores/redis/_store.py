"""``RedisStore``: the store on Redis or Redis Cluster (one Lua script per multi-key
change, see ``scripts/``)."""

from __future__ import annotations

from rota.stores._parts import Parts
from rota.stores.base import Store
from rota.stores.redis._config import RedisConfig
from rota.stores.redis._connection import RedisConnection
from rota.stores.redis._jobs import RedisJobs
from rota.stores.redis._leases import RedisLeases
from rota.stores.redis._schedules import RedisSchedules
from rota.stores.redis._wakeups import Wakeup
from rota.stores.redis._workers import RedisWorkers


class RedisStore(Store):
    """A store on Redis or Redis Cluster (all keys of a namespace share one hash tag)."""

    kind = "redis"
    shared = True

    def __init__(self, config: RedisConfig) -> None:
        super().__init__()
        self.config = config
        self._connection = db = RedisConnection(config)
        self._ready = Parts(
            jobs=RedisJobs(db), schedules=RedisSchedules(db), leases=RedisLeases(db), workers=RedisWorkers(db)
        )
        ns = config.namespace
        self._wakeups = Wakeup(
            config, {f"{ns}:wake:jobs": self._jobs_changed, f"{ns}:wake:sch": self._schedules_changed}
        )

    async def _open(self) -> Parts:
        try:
            await self._connection.open()
        except BaseException:
            await self._close()
            raise
        return self._ready

    async def _close(self) -> None:
        await self._wakeups.close()
        await self._connection.close()

    def describe(self) -> str:
        return self.config.describe()

    async def wait_for_jobs(self, timeout: float) -> bool:
        # the subscriber runs while the store is open (close() stops it)
        if self._parts is not None and await self._wakeups.ensure():
            return True
        return await super().wait_for_jobs(timeout)

    async def wait_for_schedules(self, timeout: float) -> bool:
        if self._parts is not None and await self._wakeups.ensure():
            return True
        return await super().wait_for_schedules(timeout)


def from_url(url: str) -> RedisStore:
    """An unopened store for ``url``; raises ConfigError for a bad URL or unknown option."""
    return RedisStore(RedisConfig.from_url(url))
