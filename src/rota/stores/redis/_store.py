"""The Redis store: lifecycle and wake-ups; job, schedule and lease methods come from the
mixins (one Lua script per multi-key change, see the ``.lua`` files)."""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisClusterException

from rota._errors import ConfigError, StoreUnavailable
from rota.stores.base import Store
from rota.stores.redis._config import RedisSettings
from rota.stores.redis._jobs import JobsMixin
from rota.stores.redis._schedules import SchedulesMixin
from rota.stores.redis._scripts import mapped_errors
from rota.stores.redis._wakeup import Wakeup
from rota.stores.url import redact


class RedisStore(JobsMixin, SchedulesMixin, Store):
    """A store on Redis or Redis Cluster (all keys of a namespace share one hash tag)."""

    kind = "redis"
    shared = True

    def __init__(self, settings: RedisSettings) -> None:
        super().__init__()
        self.settings = settings
        self._ns = settings.namespace
        self._client: Any = None
        self._wakeup = Wakeup(
            settings,
            {f"{self._ns}:wake:jobs": self._jobs_changed, f"{self._ns}:wake:sch": self._schedules_changed},
        )

    async def open(self) -> None:
        """Connect and check that the server is what the URL says: a cluster node for
        ``?cluster=true``, a standalone server otherwise (``ConfigError`` if not)."""
        if self._client is None:
            self._client = self.settings.client()
        try:
            async with mapped_errors("open"):
                await self._client.ping()
                if not self.settings.cluster:
                    info = await self._client.info("cluster")
        except RedisClusterException as exc:
            await self.close()
            if "cluster mode is not enabled" in str(exc).lower():
                raise ConfigError(
                    f"{redact(self.settings.url)} is a standalone Redis server, not a cluster "
                    "node: remove ?cluster=true from the URL"
                ) from None
            raise StoreUnavailable(f"Redis Cluster unavailable during open: {exc}") from exc
        if not self.settings.cluster and info.get("cluster_enabled") in (1, "1"):
            await self.close()
            raise ConfigError(
                f"{redact(self.settings.url)} is a Redis Cluster node: add ?cluster=true to the URL"
            )

    async def close(self) -> None:
        await self._wakeup.close()
        client, self._client = self._client, None
        if client is not None:
            async with mapped_errors("close"):
                await client.aclose()

    def describe(self) -> str:
        mode = "cluster" if self.settings.cluster else "redis"
        return f"{mode} {redact(self.settings.url)} prefix={self.settings.prefix}"

    async def wait_for_jobs(self, timeout: float) -> bool:
        if await self._wakeup.ensure():
            return True
        return await super().wait_for_jobs(timeout)

    async def wait_for_schedules(self, timeout: float) -> bool:
        if await self._wakeup.ensure():
            return True
        return await super().wait_for_schedules(timeout)
