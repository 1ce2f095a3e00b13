"""Named leases on SQLite, run on the store's thread."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from rota._models import Fence, Lease
from rota.stores._parts import LeasesPart
from rota.stores._resources import queries
from rota.stores.sqlite._codec import LEASES, to_us
from rota.stores.sqlite._connection import SQLiteConnection, write

L = queries(__name__.rpartition(".")[0], "leases")


def acquire(conn: sqlite3.Connection, name: str, owner: str, until: datetime, now: datetime) -> Lease | None:
    args = {"name": name, "owner": owner, "now": to_us(now), "expires": to_us(until)}
    with write(conn):
        row = conn.execute(L["acquire_lease"], args).fetchone()
    return None if row is None else LEASES.from_row(row)


def renew(
    conn: sqlite3.Connection, name: str, owner: str, token: int, *, until: datetime, now: datetime
) -> Lease | None:
    args = {"name": name, "owner": owner, "token": token, "now": to_us(now), "expires": to_us(until)}
    with write(conn):
        row = conn.execute(L["renew_lease"], args).fetchone()
    return None if row is None else LEASES.from_row(row)


def release(conn: sqlite3.Connection, name: str, owner: str, token: int, now: datetime) -> bool:
    args = {"name": name, "owner": owner, "token": token, "now": to_us(now)}
    with write(conn):
        return conn.execute(L["release_lease"], args).rowcount > 0


def get(conn: sqlite3.Connection, name: str, now: datetime) -> Lease | None:
    row = conn.execute(L["get_lease"], (name, to_us(now))).fetchone()
    return None if row is None else LEASES.from_row(row)


def list_all(conn: sqlite3.Connection, now: datetime) -> list[Lease]:
    return [LEASES.from_row(row) for row in conn.execute(L["list_leases"], {"now": to_us(now)})]


def fence_held(conn: sqlite3.Connection, fence: Fence, now_us: int) -> bool:
    """Whether ``fence`` still holds its lease at ``now_us`` (inside the caller's transaction)."""
    args = (fence.name, fence.owner, fence.token, now_us)
    return conn.execute(L["fence_held"], args).fetchone() is not None


class SQLiteLeases(LeasesPart):
    def __init__(self, db: SQLiteConnection) -> None:
        self._db = db

    async def acquire(self, name: str, owner: str, until: datetime, now: datetime) -> Lease | None:
        return await self._db.run(acquire, name, owner, until, now)

    async def renew(self, name: str, owner: str, token: int, until: datetime, now: datetime) -> Lease | None:
        return await self._db.run(renew, name, owner, token, until=until, now=now)

    async def release(self, name: str, owner: str, token: int, now: datetime) -> bool:
        return await self._db.run(release, name, owner, token, now)

    async def get(self, name: str, now: datetime) -> Lease | None:
        return await self._db.run(get, name, now)

    async def all(self, now: datetime) -> list[Lease]:
        return await self._db.run(list_all, now)
