"""Live workers on SQLite, run on the store's thread."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime

from rota._models import WorkerInfo
from rota.stores._parts import WorkersPart
from rota.stores._resources import queries
from rota.stores.sqlite._codec import WORKERS, to_us
from rota.stores.sqlite._connection import SQLiteConnection, write

W = queries(__name__.rpartition(".")[0], "workers")


def register(conn: sqlite3.Connection, info: WorkerInfo, until: datetime, now: datetime) -> WorkerInfo:
    stored = dataclasses.replace(info, last_heartbeat=now, expires_at=until)
    row = WORKERS.to_row(stored)
    with write(conn):
        conn.execute(W["register_worker"], row)
    return stored


def live(conn: sqlite3.Connection, now: datetime) -> list[WorkerInfo]:
    at = to_us(now)
    if conn.execute(W["any_expired"], (at,)).fetchone():
        with write(conn):  # only when there is something to delete: listing takes no lock
            conn.execute(W["delete_expired"], (at,))
    return [WORKERS.from_row(row) for row in conn.execute(W["live_workers"], (at,))]


def remove(conn: sqlite3.Connection, worker_id: str) -> bool:
    with write(conn):
        return conn.execute(W["unregister_worker"], (worker_id,)).rowcount > 0


class SQLiteWorkers(WorkersPart):
    def __init__(self, db: SQLiteConnection) -> None:
        self._db = db

    async def register(self, info: WorkerInfo, until: datetime, now: datetime) -> WorkerInfo:
        return await self._db.run(register, info, until, now)

    async def live(self, now: datetime) -> list[WorkerInfo]:
        return await self._db.run(live, now)

    async def remove(self, worker_id: str) -> bool:
        return await self._db.run(remove, worker_id)
