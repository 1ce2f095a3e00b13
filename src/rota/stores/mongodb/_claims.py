"""Claim candidates: which job documents a claim tries to win, best first.

With one bucket (MongoDB) every claim asks an indexed, sorted query. With several buckets
(FerretDB on SQLite, see _buckets.py) a sorted query costs a scan of every bucket, so the
live jobs (pending and running) are read once into a local list kept in claim order and
reused while nothing new can have appeared:

* every write that makes a job runnable other than by time (add, release, requeue, a retry,
  a schedule fire) stores a new random token in ``<prefix>_meta`` *after* its job write; a
  claim reads the token first and re-reads the buckets when it changed (a writer's token
  is unique, so a list read after seeing a token includes every job written before it);
* jobs that become runnable by time (due later, lease expiry) are in the list with their
  times and are filtered at each claim with the caller's ``now``;
* this process's own changes update the list; a candidate lost to another writer is read
  again by ``_id``; the whole list is read again when ``REFRESH_AFTER`` of the caller's time
  passed (belt and braces: a missed change costs a delay, never a wrong claim).

The list is only a hint: every claim still wins each job by its version (_versioned.py), so a
stale entry loses and is dropped; it never hands one job to two claimers.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from rota._models import JobStatus
from rota.stores.mongodb._buckets import Buckets
from rota.stores.mongodb._codec import Doc, as_utc

CLAIM_ORDER = [("priority", DESCENDING), ("due_at", ASCENDING), ("_id", ASCENDING)]
REFRESH_AFTER = timedelta(seconds=10)
_PENDING, _RUNNING = JobStatus.PENDING.value, JobStatus.RUNNING.value

Token = Callable[[], Awaitable[object]]
Key = tuple[int, datetime, str]


def _key(doc: Doc) -> Key:
    return (-int(doc["priority"]), as_utc(doc["due_at"]), doc["_id"])


class Claims:
    def __init__(self, buckets: Buckets) -> None:
        self.buckets = buckets
        self.token: Token | None = None  # set by the store: reads the jobs' change token
        self._seen: object = None
        self._read_at: datetime | None = None
        self._keys: list[Key] = []
        self._docs: dict[str, tuple[int, Doc]] = {}

    async def candidates(self, queues: Sequence[str], want: int, now: datetime) -> list[tuple[int, Doc]]:
        if self.buckets.count == 1 or self.token is None:
            return [(0, d) async for d in self._query(self.buckets.jobs[0], queues, now).limit(want)]
        token = await self.token()
        stale = self._read_at is None or now - self._read_at >= REFRESH_AFTER or now < self._read_at
        if token != self._seen or stale:
            await self._refresh(now)
            self._seen = token
        out: list[tuple[int, Doc]] = []
        qs = set(queues)
        for key in self._keys:
            n, doc = self._docs[key[2]]
            if doc["queue"] in qs and _runnable(doc, now):
                out.append((n, doc))
                if len(out) >= want:
                    break
        return out

    def written(self, n: int, old: Doc, new: Doc | None) -> None:
        """This process changed a job (``new`` None: deleted): keep the list in step."""
        if self.buckets.count == 1:
            return
        if self._docs.pop(old["_id"], None) is not None:
            k = bisect.bisect_left(self._keys, _key(old))
            if k < len(self._keys) and self._keys[k][2] == old["_id"]:
                del self._keys[k]
        if new is not None and new["status"] in (_PENDING, _RUNNING):
            self._docs[new["_id"]] = (n, new)
            bisect.insort(self._keys, _key(new))

    async def lost(self, docs: Sequence[tuple[int, Doc]]) -> None:
        """These candidates were changed by someone else: replace them by what is stored now."""
        if self.buckets.count == 1 or not docs:
            return
        found = await self.buckets.locate((d["_id"] for _, d in docs), everywhere=False)
        for n, doc in docs:
            got = found.get(doc["_id"])
            self.written(n, doc, got[1] if got is not None else None)

    async def _refresh(self, now: datetime) -> None:
        live = {"status": {"$in": [_PENDING, _RUNNING]}}

        async def part(n: int, coll: AsyncCollection[Doc]) -> list[tuple[int, Doc]]:
            return [(n, d) async for d in coll.find(live)]

        docs = {d["_id"]: (n, d) for xs in await self.buckets.each(part) for n, d in xs}
        self._docs = docs
        self._keys = sorted(_key(d) for _, d in docs.values())
        self._read_at = now

    @staticmethod
    def _query(coll: AsyncCollection[Doc], queues: Sequence[str], now: datetime):  # type: ignore[no-untyped-def]
        runnable = {
            "queue": {"$in": list(queues)},
            "$or": [
                {"status": _PENDING, "due_at": {"$lte": now}},
                {"status": _RUNNING, "lease_expires_at": {"$lte": now}},
            ],
        }
        return coll.find(runnable).sort(CLAIM_ORDER)


def _runnable(doc: Doc, now: datetime) -> bool:
    if doc["status"] == _PENDING:
        return as_utc(doc["due_at"]) <= now
    expires = doc.get("lease_expires_at")
    return expires is not None and as_utc(expires) <= now
