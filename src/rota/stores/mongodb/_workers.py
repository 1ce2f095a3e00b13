"""Live workers of the MongoDB store, one document per worker in ``<prefix>_workers``.

A registration replaces its worker's document whole (an upsert by ``_id``, which every
compatible server applies to one document atomically: no compare-and-set is needed, the
last refresh wins). Listing deletes the expired documents first; there is no TTL index, as
its expiry would follow the server's clock, not the caller's ``now``.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection

from rota._models import WorkerInfo
from rota.stores._parts import WorkersPart
from rota.stores.mongodb._codec import WORKERS, Doc
from rota.stores.mongodb._connection import MongoConnection, mapped


class MongoWorkers(WorkersPart):
    def __init__(self, db: MongoConnection) -> None:
        self._db = db

    @property
    def workers(self) -> AsyncCollection[Doc]:
        return self._db.collection("workers")

    @mapped
    async def register(self, info: WorkerInfo, until: datetime, now: datetime) -> WorkerInfo:
        stored = dataclasses.replace(info, last_heartbeat=now, expires_at=until)
        await self.workers.replace_one({"_id": info.id}, WORKERS.to_mapping(stored), upsert=True)
        return stored

    @mapped
    async def live(self, now: datetime) -> list[WorkerInfo]:
        await self.workers.delete_many({"expires_at": {"$lte": now}})
        cursor = self.workers.find({"expires_at": {"$gt": now}}).sort("_id", 1)
        return [WORKERS.from_mapping(doc) async for doc in cursor]

    @mapped
    async def remove(self, worker_id: str) -> bool:
        return (await self.workers.delete_one({"_id": worker_id})).deleted_count > 0
