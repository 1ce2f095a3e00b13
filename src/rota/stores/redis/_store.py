"""The Redis store: lifecycle and wake-ups; job, schedule and lease methods come from the
mixins (one Lua script per multi-key change, see the ``.lua`` files)."""

from __future__ import annotations

from typing import Any

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
        if self._client is None:
            self._client = self.settings.client()
        async with mapped_errors("open"):
            await self._client.ping()

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
