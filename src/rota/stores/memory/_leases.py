"""Named leases of a ``MemoryStore``."""

from __future__ import annotations

from datetime import datetime

from rota._models import Fence, Lease
from rota.stores._parts import LeasesPart


class MemoryLeases(LeasesPart):
    def __init__(self) -> None:
        self._leases: dict[str, Lease] = {}
        self._tokens: dict[str, int] = {}  # survives release/expiry: tokens never go back

    async def acquire(self, name: str, owner: str, until: datetime, now: datetime) -> Lease | None:
        current = self._leases.get(name)
        if current is not None and current.expires_at > now:
            return None
        token = self._tokens.get(name, 0) + 1
        self._tokens[name] = token
        lease = Lease(name=name, owner=owner, token=token, acquired_at=now, expires_at=until)
        self._leases[name] = lease
        return lease

    async def renew(self, name: str, owner: str, token: int, until: datetime, now: datetime) -> Lease | None:
        current = self._leases.get(name)
        if current is None or current.owner != owner or current.token != token or current.expires_at <= now:
            return None
        lease = Lease(name, owner, token, current.acquired_at, until)
        self._leases[name] = lease
        return lease

    async def release(self, name: str, owner: str, token: int, now: datetime) -> bool:
        current = self._leases.get(name)
        if current is None or current.owner != owner or current.token != token:
            return False
        del self._leases[name]
        return True

    async def get(self, name: str, now: datetime) -> Lease | None:
        current = self._leases.get(name)
        return current if current is not None and current.expires_at > now else None

    async def all(self, now: datetime) -> list[Lease]:
        return sorted(
            (lease for lease in self._leases.values() if lease.expires_at > now), key=lambda x: x.name
        )

    def holds(self, fence: Fence, now: datetime) -> bool:
        """Whether ``fence`` is still the unexpired holder of its lease at ``now``."""
        lease = self._leases.get(fence.name)
        return (
            lease is not None
            and lease.owner == fence.owner
            and lease.token == fence.token
            and lease.expires_at > now
        )
