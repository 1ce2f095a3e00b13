"""Compare-and-set on one document that holds even where updates are not atomic.

MongoDB applies a filtered ``update``/``findAndModify`` atomically, but FerretDB 1.x (the
test server) does not: it reads, filters, then overwrites the whole document by ``_id``, so
two writers filtering on the same old state can both "succeed" (FerretDB/FerretDB#3040).
The one write every MongoDB-compatible server makes atomic is an insert refused for a
duplicate ``_id``. So every change of a stored document goes through ``Versioned.apply``:

1. The writer has read the document at version ``ver = v`` and computed its whole new
   content. It inserts a *mark* ``{_id: "<coll>:<inc>:<v>", new: <content>}`` into the
   marks collection. Exactly one writer can insert the mark of version ``v``: it has won the
   change; the others lost the race and must re-read.
2. The winner writes the content as version ``v + 1`` with a filter on ``ver: v`` (atomic on
   MongoDB; on FerretDB only the winner ever writes version ``v + 1``, so there is nobody to
   race with).
3. The mark of version ``v - 1`` is deleted: nobody can still pass a ``ver: v - 1`` filter.
   A stale writer that read version ``v - 1`` can then insert that mark again, but its write
   matches nothing, and ``apply`` reports that change lost, not won.

A writer that crashes between 1 and 2 leaves the document at ``v`` with its mark holding the
content: a later writer that loses the race against that mark writes the mark's content
itself once the mark is older than ``ROLL_FORWARD_AFTER``, or at once if the collection says
the change has lapsed (a lease whose new expiry has passed: writing it changes nothing anyone
may do, and a leader killed mid-renewal must not hold up the election for longer than its
lease), or at once if the change was made under a fence (a leader's term) that is no longer
held (a scheduler pass of a leader killed mid-write must not hold up its successor's). So a
won change is never lost and never applied twice: step 2 is idempotent; a live but slow
winner overtaken that way is told its change lost unless the document still holds it.

``inc`` (the document's incarnation: a job id, a random id per schedule) keeps a deleted
document's marks from blocking a later document with the same ``_id`` (a dedupe key freed by
purge). A deleted document keeps its last mark (a writer that read it just before cannot win
it again); ``purge`` drops old marks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from pymongo import DeleteOne, UpdateMany
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from rota._models import Fence
from rota.stores.mongodb._codec import Doc, as_utc
from rota.stores.mongodb._connection import duplicate_indexes

# a winner that has not written its change this long after winning is taken to have crashed
ROLL_FORWARD_AFTER = timedelta(seconds=10)

# statements per write command: bounds the size of one command (and of one retry)
_BULK_CHUNK = 32

Change = tuple[Doc, Doc | None]  # (the document as read, its new content or None to delete)

# whether a change's new content no longer matters at ``now`` (its winner may be rolled
# forward without waiting ROLL_FORWARD_AFTER)
Lapsed = Callable[[Doc, datetime], bool]
# whether a fence is still held at ``now`` (the leases part's ``holds``)
FenceCheck = Callable[[Fence, datetime], Awaitable[bool]]


class Versioned:
    def __init__(
        self,
        docs: AsyncCollection[Doc],
        marks: AsyncCollection[Doc],
        *,
        lapsed: Lapsed | None = None,
        fence_ok: FenceCheck | None = None,
    ) -> None:
        self.docs = docs
        self.marks = marks
        self._lapsed = lapsed
        self._fence_ok = fence_ok

    def _mark_id(self, doc: Doc, ver: int) -> str:
        return f"{self.docs.name}:{doc['inc']}:{ver}"

    async def apply(
        self, changes: Sequence[Change], now: datetime, *, fence: Fence | None = None
    ) -> list[bool]:
        """Apply each change if the document is still at the version it was read at.

        Returns, per change, whether it won (it is then applied, now or by a roll-forward).
        New contents get ``_id``, ``inc`` and ``ver`` set here. ``fence``: the term the
        changes are made under (kept in their marks: see ``_stale``).
        """
        if not changes:
            return []
        marks: list[Doc] = []
        for cur, new in changes:
            mark: Doc = {
                "_id": self._mark_id(cur, cur["ver"]),
                "doc": cur["_id"],
                "ver": cur["ver"],
                "at": now,
            }
            if fence is not None:
                mark["fence"] = [fence.name, fence.owner, fence.token]
            if new is not None:
                new.update(_id=cur["_id"], inc=cur["inc"], ver=cur["ver"] + 1)
                gone = [k for k in cur if k not in new]
                if gone:  # the write sets fields (see _write): these are unset to replace
                    mark["unset"] = gone
            marks.append({**mark, "new": new})
        lost: set[int] = set()
        try:
            await self.marks.insert_many(marks, ordered=False)
        except BulkWriteError as exc:
            lost = duplicate_indexes(exc)
        won = [n not in lost for n in range(len(changes))]
        missed = await self._write([m for n, m in enumerate(marks) if won[n]])
        if missed:
            # a mark won for a version the document had already left (its mark was deleted
            # after two later changes): a stale read; its write matched nothing
            won = [ok and marks[n]["_id"] not in missed for n, ok in enumerate(won)]
        if lost:
            await self._roll_forward([marks[n]["_id"] for n in sorted(lost)], now)
        return won

    async def _write(self, marks: Sequence[Doc]) -> set[str]:
        """Write the marks' contents; returns the ids of marks whose write matched nothing."""
        if not marks:
            return set()
        ops: list[UpdateMany | DeleteOne] = []
        for m in marks:
            flt = {"_id": m["doc"], "ver": m["ver"]}
            ops.append(DeleteOne(flt) if m["new"] is None else UpdateMany(flt, _replacing(m)))
        matched = await _bulk(self.docs, ops)
        missed: set[str] = set()
        if matched < len(ops):  # rare: find which ones (the counts are per command)
            found = await asyncio.gather(*(self.docs.find_one({"_id": m["doc"]}, {"ver": 1}) for m in marks))
            for m, doc in zip(marks, found, strict=True):
                applied = doc is None if m["new"] is None else doc is not None and doc["ver"] == m["ver"] + 1
                if not applied:
                    missed.add(m["_id"])
        # the mark of the version before: it can no longer be contended (see the module doc)
        done = [m["_id"].rsplit(":", 1)[0] + f":{m['ver'] - 1}" for m in marks if m["ver"] > 1]
        if done:
            await _bulk(self.marks, [DeleteOne({"_id": d}) for d in done])
        return missed

    async def _roll_forward(self, mark_ids: list[str], now: datetime) -> None:
        """Write the changes of winners that seem to have crashed before writing them."""
        found = await asyncio.gather(*(self.marks.find_one({"_id": m}) for m in mark_ids))
        held: dict[Fence, bool] = {}  # one read of a term for all the marks made under it
        await self._write([m for m in found if m is not None and await self._stale(m, now, held)])

    async def _stale(self, mark: Doc, now: datetime, held: dict[Fence, bool]) -> bool:
        """Whether the winner of ``mark`` may be taken to have crashed (see the module doc);
        ``held`` remembers the terms already looked up."""
        if as_utc(mark["at"]) <= now - ROLL_FORWARD_AFTER:
            return True
        new = mark["new"]
        if self._lapsed is not None and new is not None and self._lapsed(new, now):
            return True
        if mark.get("fence") is None or self._fence_ok is None:
            return False
        fence = Fence(*mark["fence"])
        if fence not in held:
            held[fence] = await self._fence_ok(fence, now)
        return not held[fence]

    async def forget_before(self, cutoff: datetime) -> None:
        """Drop marks older than ``cutoff``: by then every winner wrote or was rolled forward."""
        try:
            before = cutoff - ROLL_FORWARD_AFTER
        except OverflowError:
            return
        await self.marks.delete_many({"at": {"$lt": before}})


def _replacing(mark: Doc) -> Doc:
    """The update that turns the document into the mark's content.

    Not a replacement (``ReplaceOne``) but a multi update of the fields, though the filter
    holds ``_id``: FerretDB 1.x keeps the read of each single-document update statement open
    (holding a backend connection) until its whole command ends, and needs another connection
    to write. A few commands of many such statements at once exhaust its pool (50
    connections over PostgreSQL, 100 per database over SQLite) and wait for each other for
    good: four worker processes stalled that way. A multi update finishes its read before
    the next statement, so a command holds at most two connections at any time.
    """
    update: Doc = {"$set": {k: v for k, v in mark["new"].items() if k != "_id"}}
    if mark.get("unset"):
        update["$unset"] = dict.fromkeys(mark["unset"], "")
    return update


async def _bulk(coll: AsyncCollection[Doc], ops: Sequence[UpdateMany | DeleteOne]) -> int:
    """Run the writes in commands of at most ``_BULK_CHUNK``; returns how many matched."""
    matched = 0
    for start in range(0, len(ops), _BULK_CHUNK):
        res = await coll.bulk_write(list(ops[start : start + _BULK_CHUNK]), ordered=False)
        matched += res.matched_count + res.deleted_count
    return matched
