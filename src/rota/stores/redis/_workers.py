"""Live workers on Redis: ``N:w:<id>`` is a worker's hash, ``N:workers`` the ids by expiry
(milliseconds); each change is one script."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from rota._models import WorkerInfo
from rota.stores._parts import WorkersPart
from rota.stores.redis._codec import decode_worker, to_ms, worker_fields
from rota.stores.redis._connection import RedisConnection


class RedisWorkers(WorkersPart):
    def __init__(self, db: RedisConnection) -> None:
        self._db = db

    async def register(self, info: WorkerInfo, until: datetime, now: datetime) -> WorkerInfo:
        stored = dataclasses.replace(info, last_heartbeat=now, expires_at=until)
        await self._db.run("register_worker", info.id, to_ms(until), *worker_fields(stored))
        return stored

    async def live(self, now: datetime) -> list[WorkerInfo]:
        rows = await self._db.run("list_workers", to_ms(now))
        return sorted((decode_worker(row[0], row[1]) for row in rows), key=lambda w: w.id)

    async def remove(self, worker_id: str) -> bool:
        return bool(await self._db.run("unregister_worker", worker_id))
