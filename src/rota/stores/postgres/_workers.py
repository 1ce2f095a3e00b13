"""Live workers on PostgreSQL: one statement each, from queries/workers.sql."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from rota._models import WorkerInfo
from rota.stores._parts import WorkersPart
from rota.stores._resources import queries
from rota.stores.postgres._codec import WORKERS
from rota.stores.postgres._connection import PostgresConnection

Q = queries(__name__.rpartition(".")[0], "workers")


class PostgresWorkers(WorkersPart):
    def __init__(self, db: PostgresConnection) -> None:
        self._db = db

    async def register(self, info: WorkerInfo, until: datetime, now: datetime) -> WorkerInfo:
        stored = dataclasses.replace(info, last_heartbeat=now, expires_at=until)
        await self._db.fetch(Q["register_worker"], *WORKERS.to_row(stored))
        return stored

    async def live(self, now: datetime) -> list[WorkerInfo]:
        return [WORKERS.from_row(row) for row in await self._db.fetch(Q["live_workers"], now)]

    async def remove(self, worker_id: str) -> bool:
        return await self._db.fetchrow(Q["unregister_worker"], worker_id) is not None
