"""Named leases (leader election, locks) of the MongoDB store, one document per name.

The document is kept forever (``owner`` goes back to null on release), so its ``token`` only
ever grows. Every change is a compare-and-set on the document's version (see _versioned.py);
the first acquisition of a name is an insert, refused for a duplicate ``_id`` if another
process got there first.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from rota._errors import InvalidState
from rota._models import Fence, Lease
from rota.stores._parts import LeasesPart
from rota.stores.mongodb._codec import LEASES, Doc, as_utc
from rota.stores.mongodb._connection import MongoConnection, mapped
from rota.stores.mongodb._versioned import Versioned

_ROUNDS = 16


def _held(doc: Doc | None, now: datetime) -> bool:
    return doc is not None and doc.get("owner") is not None and as_utc(doc["expires_at"]) > now


def _pending(doc: Doc, lost_at: int | None) -> bool:
    """Whether a change lost at version ``lost_at`` lost to one that is not written yet (the
    document has not moved on): another process is changing the lease, so it is not ours to
    take now; looking again at once would only lose again."""
    return bool(doc["ver"] == lost_at)


def _lapsed(new: Doc, now: datetime) -> bool:
    """A change that leaves the lease free at ``now`` (an expired renewal, a release)."""
    return not _held(new, now)


class MongoLeases(LeasesPart):
    """Named leases in ``<prefix>_leases``."""

    def __init__(self, db: MongoConnection) -> None:
        self._db = db

    @property
    def leases(self) -> AsyncCollection[Doc]:
        return self._db.collection("leases")

    async def prepare(self) -> None:
        """On open (the ``_id`` index is the only one)."""
        self.cas = Versioned(self.leases, self._db.collection("marks"), lapsed=_lapsed)

    @mapped
    async def acquire(self, name: str, owner: str, until: datetime, now: datetime) -> Lease | None:
        seen = None
        for _ in range(_ROUNDS):
            doc = await self.leases.find_one({"_id": name})
            if doc is None:
                first = {"_id": name, "owner": owner, "token": 1, "acquired_at": now, "expires_at": until}
                try:
                    await self.leases.insert_one({**first, "inc": name, "ver": 1})
                except DuplicateKeyError:
                    continue  # created meanwhile: look again
                return LEASES.from_mapping(first)
            if _held(doc, now) or _pending(doc, seen):
                return None
            seen = doc["ver"]
            new = {
                **doc,
                "owner": owner,
                "token": doc["token"] + 1,
                "acquired_at": now,
                "expires_at": until,
            }
            if (await self.cas.apply([(doc, new)], now))[0]:
                return LEASES.from_mapping(new)
        raise InvalidState(f"lease {name!r} kept changing while being acquired; try again")

    async def _change(
        self, name: str, owner: str, token: int, now: datetime, *, live: bool, fields: Doc
    ) -> Doc | None:
        seen = None
        for _ in range(_ROUNDS):
            doc = await self.leases.find_one({"_id": name})
            if doc is None or (doc.get("owner"), doc["token"]) != (owner, token):
                return None
            if (live and not _held(doc, now)) or _pending(doc, seen):
                return None
            seen = doc["ver"]
            new = {**doc, **fields}
            if (await self.cas.apply([(doc, new)], now))[0]:
                return new
        raise InvalidState(f"lease {name!r} kept changing; try again")

    @mapped
    async def renew(self, name: str, owner: str, token: int, until: datetime, now: datetime) -> Lease | None:
        new = await self._change(name, owner, token, now, live=True, fields={"expires_at": until})
        return LEASES.from_mapping(new) if new is not None else None

    @mapped
    async def release(self, name: str, owner: str, token: int, now: datetime) -> bool:
        return await self._change(name, owner, token, now, live=False, fields={"owner": None}) is not None

    @mapped
    async def get(self, name: str, now: datetime) -> Lease | None:
        doc = await self.leases.find_one({"_id": name})
        return LEASES.from_mapping(doc) if doc is not None and _held(doc, now) else None

    @mapped
    async def all(self, now: datetime) -> list[Lease]:
        # one document per name ever leased (few: a scan of them is cheap)
        held = {"owner": {"$ne": None}, "expires_at": {"$gt": now}}
        return [LEASES.from_mapping(doc) async for doc in self.leases.find(held).sort("_id", 1)]

    async def holds(self, fence: Fence, now: datetime) -> bool:
        """Whether ``fence`` is still the unexpired holder of its lease at ``now`` (a read)."""
        held = await self.get(fence.name, now)
        return held is not None and (held.owner, held.token) == (fence.owner, fence.token)
