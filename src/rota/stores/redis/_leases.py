"""Named leases on Redis: ``N:lease:<name>`` is a hash whose token counter outlives every
holder (release and expiry keep it), so tokens never go back."""

from __future__ import annotations

import re
from datetime import datetime

from rota._models import Lease
from rota.stores._parts import LeasesPart
from rota.stores.redis._codec import LEASES, from_ms, to_ms
from rota.stores.redis._connection import RedisConnection


class RedisLeases(LeasesPart):
    def __init__(self, db: RedisConnection) -> None:
        self._db = db
        self._indexed = False  # N:leases is known to hold every name (see _index_names)

    async def acquire(self, name: str, owner: str, until: datetime, now: datetime) -> Lease | None:
        at, expires = to_ms(now), to_ms(until)
        token = await self._db.run("acquire_lease", name, owner, at, expires)
        if token is None:
            return None
        return Lease(name, owner, int(token), from_ms(at), from_ms(expires))

    async def renew(self, name: str, owner: str, token: int, until: datetime, now: datetime) -> Lease | None:
        expires = to_ms(until)
        acquired = await self._db.run("renew_lease", name, owner, token, to_ms(now), expires)
        if acquired is None:
            return None
        return Lease(name, owner, token, from_ms(acquired), from_ms(expires))

    async def release(self, name: str, owner: str, token: int, now: datetime) -> bool:
        return bool(await self._db.run("release_lease", name, owner, token, to_ms(now)))

    async def get(self, name: str, now: datetime) -> Lease | None:
        async with self._db.mapped("get_lease"):
            held = await self._db.client.hmget(f"{self._db.namespace}:lease:{name}", "o", "tk", "a", "e")
        if held[0] is None or int(held[3]) <= to_ms(now):
            return None
        return LEASES.from_row([name.encode(), *held])

    async def all(self, now: datetime) -> list[Lease]:
        if not self._indexed:
            await self._index_names()
        rows = await self._db.run("list_leases", to_ms(now))
        return sorted((LEASES.from_row(row) for row in rows), key=lambda lease: lease.name)

    async def _index_names(self) -> None:
        """Once per store: names leased by a version of rota that did not keep ``N:leases``
        (before the dashboard) are added to it, from one scan of their keys."""
        ns = self._db.namespace
        client = self._db.client
        async with self._db.mapped("list_leases"):
            if not await client.exists(f"{ns}:leases:indexed"):
                head = f"{ns}:lease:"
                pattern = re.sub(r"([*?\[\]\\])", r"\\\1", head) + "*"
                skip = len(head.encode())
                names = [key[skip:] async for key in client.scan_iter(match=pattern, count=1000)]
                if names:
                    await client.sadd(f"{ns}:leases", *names)
                await client.set(f"{ns}:leases:indexed", 1)
        self._indexed = True
