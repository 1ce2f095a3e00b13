"""Named leases on PostgreSQL, from queries/leases.sql."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from rota._models import Fence, Lease
from rota.stores._parts import LeasesPart
from rota.stores._resources import queries
from rota.stores.postgres._codec import LEASES
from rota.stores.postgres._connection import PostgresConnection

L = queries(__name__.rpartition(".")[0], "leases")


class PostgresLeases(LeasesPart):
    def __init__(self, db: PostgresConnection) -> None:
        self._db = db

    async def acquire(self, name: str, owner: str, until: datetime, now: datetime) -> Lease | None:
        row = await self._db.fetchrow(L["acquire_lease"], name, owner, now, until)
        return LEASES.from_row(row) if row is not None else None

    async def renew(self, name: str, owner: str, token: int, until: datetime, now: datetime) -> Lease | None:
        row = await self._db.fetchrow(L["renew_lease"], name, owner, token, now, until)
        return LEASES.from_row(row) if row is not None else None

    async def release(self, name: str, owner: str, token: int, now: datetime) -> bool:
        return await self._db.fetchrow(L["release_lease"], name, owner, token, now) is not None

    async def get(self, name: str, now: datetime) -> Lease | None:
        row = await self._db.fetchrow(L["get_lease"], name, now)
        return LEASES.from_row(row) if row is not None else None

    async def all(self, now: datetime) -> list[Lease]:
        return [LEASES.from_row(row) for row in await self._db.fetch(L["list_leases"], now)]


async def lock_fence(conn: asyncpg.Connection, fence: Fence, now: datetime) -> bool:
    """Whether ``fence`` still holds its lease at ``now``, share-locking the lease row so that
    it cannot change hands before the caller's transaction commits."""
    held = await conn.fetchval(L["lock_fence"], fence.name, fence.owner, fence.token, now)
    return held is not None
