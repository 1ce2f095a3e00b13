"""Live workers of a ``MemoryStore``."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from rota._models import WorkerInfo
from rota.stores._parts import WorkersPart


class MemoryWorkers(WorkersPart):
    def __init__(self) -> None:
        self._workers: dict[str, WorkerInfo] = {}

    async def register(self, info: WorkerInfo, until: datetime, now: datetime) -> WorkerInfo:
        stored = dataclasses.replace(info, last_heartbeat=now, expires_at=until)
        self._workers[info.id] = stored
        return stored

    async def live(self, now: datetime) -> list[WorkerInfo]:
        expired = [w.id for w in self._workers.values() if w.expires_at is None or w.expires_at <= now]
        for worker_id in expired:
            del self._workers[worker_id]
        return sorted(self._workers.values(), key=lambda w: w.id)

    async def remove(self, worker_id: str) -> bool:
        return self._workers.pop(worker_id, None) is not None
