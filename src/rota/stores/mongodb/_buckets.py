"""Where job documents live: one jobs collection, or ``buckets`` small ones.

A job lives in bucket ``crc32(ukey) % buckets`` (``ukey``: its dedupe key, or ``id:<id>``; see
_codec.py), so two jobs with one key always meet the same unique index and dedupe holds
across buckets. Each bucket has its own marks collection (see _versioned.py).

Why buckets at all: FerretDB 1.x on SQLite answers every query by scanning its table, even a
lookup by ``_id`` (its pushed-down ``_id`` filter does not match the ``_id`` index), so the
cost of each single-document read or write grows with the collection. Small buckets keep
that cost flat; on MongoDB, where every lookup is an index seek, ``buckets=1`` (the default)
is best. The count is stored in ``<prefix>_meta`` by the first process that opens the
namespace; a process that asks for another count gets a ``ConfigError``.

A job's bucket follows from its id for unkeyed jobs; for keyed ones it is remembered from
add and claim, and otherwise found by asking every bucket (reads of single ids by other
processes only: admin actions, and finishing a job claimed through another store object).
"""

from __future__ import annotations

import asyncio
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from rota._errors import ConfigError
from rota.stores.mongodb._codec import Doc
from rota.stores.mongodb._versioned import Versioned

T = TypeVar("T")
IndexSpec = tuple[str, list[tuple[str, int]], dict[str, Any]]

_REMEMBERED = 200_000  # job id -> bucket entries kept per store object
_LAYOUT = "layout"


def bucket_names(prefix: str, count: int, n: int) -> tuple[str, str]:
    """The jobs and marks collections of bucket ``n`` (one bucket keeps the plain names)."""
    if count == 1:
        return f"{prefix}_jobs", f"{prefix}_marks"
    return f"{prefix}_jobs_{n}", f"{prefix}_marks_{n}"


async def agree_on_layout(meta: AsyncCollection[Doc], buckets: int | None) -> int:
    """The namespace's bucket count: the stored one, or ``buckets`` (default 1) stored now."""
    want = 1 if buckets is None else buckets
    try:
        await meta.insert_one({"_id": _LAYOUT, "buckets": want})
    except DuplicateKeyError:
        doc = await meta.find_one({"_id": _LAYOUT})
        stored = int(doc["buckets"]) if doc is not None else want
        if buckets is not None and stored != buckets:
            raise ConfigError(
                f"this namespace was created with buckets={stored}; open it with that count "
                f"(or without the option), not buckets={buckets}"
            ) from None
        return stored
    return want


class Buckets:
    def __init__(self, db: AsyncDatabase[Doc], prefix: str, count: int, indexes: Sequence[IndexSpec]) -> None:
        self.count = count
        self.jobs: list[AsyncCollection[Doc]] = []
        self.cas: list[Versioned] = []
        for n in range(count):
            jobs, marks = bucket_names(prefix, count, n)
            self.jobs.append(db[jobs])
            self.cas.append(Versioned(db[jobs], db[marks]))
        self._indexes = [IndexModel(keys, name=name, **extra) for name, keys, extra in indexes]
        self._ready: set[int] = set()
        self._where: OrderedDict[str, int] = OrderedDict()

    def of_ukey(self, ukey: str) -> int:
        return zlib.crc32(ukey.encode()) % self.count if self.count > 1 else 0

    async def ensure(self, n: int) -> None:
        """Create bucket ``n``'s indexes before its first insert (idempotent, any process)."""
        if n in self._ready:
            return
        # one index per command: FerretDB 1.24 panics on a createIndexes listing several
        for index in self._indexes:
            await self.jobs[n].create_indexes([index])
        await self.cas[n].marks.create_index([("at", 1)], name="at")
        self._ready.add(n)

    def remember(self, job_id: str, n: int) -> None:
        if self.count == 1:
            return
        self._where[job_id] = n
        self._where.move_to_end(job_id)
        while len(self._where) > _REMEMBERED:
            self._where.popitem(last=False)

    def forget(self, job_id: str) -> None:
        self._where.pop(job_id, None)

    def guesses(self, job_id: str) -> list[int]:
        """The buckets the job most likely is in, best first."""
        first = [self._where[job_id]] if job_id in self._where else []
        unkeyed = self.of_ukey(f"id:{job_id}")
        return first + ([unkeyed] if unkeyed not in first else [])

    async def locate(
        self, ids: Iterable[str], projection: Mapping[str, int] | None = None, *, everywhere: bool = True
    ) -> dict[str, tuple[int, Doc]]:
        """The stored documents of these ids with their buckets; absent ids are left out.

        Lookups are by ``_id`` alone, one per id (the filter every compatible server answers
        from its primary key). Ids not in their likely buckets are looked for in all the
        others when ``everywhere``.
        """
        todo = list(dict.fromkeys(ids))
        found: dict[str, tuple[int, Doc]] = {}
        tried: dict[str, set[int]] = {i: set() for i in todo}
        plan = [(i, n) for i in todo for n in self.guesses(i)]
        for pass_ in range(2):
            if pass_ == 1:
                if not everywhere or self.count == 1:
                    break
                rest = [i for i in todo if i not in found]
                plan = [(i, n) for i in rest for n in range(self.count) if n not in tried[i]]
            docs = await asyncio.gather(*(self.jobs[n].find_one({"_id": i}, projection) for i, n in plan))
            for (i, n), doc in zip(plan, docs, strict=True):
                tried[i].add(n)
                if doc is not None:
                    found[i] = (n, doc)
                    self.remember(i, n)
        return found

    async def each(self, fn: Callable[[int, AsyncCollection[Doc]], Awaitable[T]]) -> list[T]:
        """``fn`` over every bucket, concurrently."""
        return list(await asyncio.gather(*(fn(n, c) for n, c in enumerate(self.jobs))))
