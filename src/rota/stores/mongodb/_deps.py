"""Dependencies between jobs on MongoDB (see ``Store.add``, "Dependencies").

No write spans two documents here, so each step is a compare-and-set of one document
(``Versioned.apply``) and each (parent, child) edge settles once through the child's
``pdone`` list (the parents that have settled it), whoever settles it:

* **add** inserts the child as its parents make it, then bumps each parent's ``dependants``
  (a compare-and-set). The parent's state at that version decides: still running, so its
  end will come after and find the child; or already ended, so the add settles the edge
  itself.
* **a parent's end** (finish, cancel, a last lost lease), once written, finds its waiting
  children by the ``parents`` index and settles them; children it cancels settle theirs.

A process that dies between the two steps of either leaves children waiting (see
docs/mongodb.md): the stores with transactions have no such window.
"""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection

from rota._errors import InvalidState
from rota._models import JobStatus
from rota.stores._deps import settle
from rota.stores.mongodb._codec import FINAL, JOBS, Doc
from rota.stores.mongodb._versioned import Versioned

_ROUNDS = 16
_WAITING = JobStatus.WAITING.value


class Dependencies:
    def __init__(self, jobs: AsyncCollection[Doc], cas: Versioned) -> None:
        self.jobs = jobs
        self.cas = cas

    async def count_on_parents(self, child_id: str, parents: list[str], now: datetime) -> bool:
        """Bump each parent's ``dependants``; settle the edge of a parent already ended.
        Returns whether the child was released."""
        released = False
        for parent_id in parents:
            for _ in range(_ROUNDS):
                doc = await self.jobs.find_one({"_id": parent_id})
                if doc is None:
                    break  # purged meanwhile: it had ended, and the link saw how
                new = {**doc, "dependants": int(doc.get("dependants") or 0) + 1}
                if (await self.cas.apply([(doc, new)], now))[0]:
                    if doc["status"] in FINAL:
                        released = await self.settle_edge(parent_id, doc, child_id, now) or released
                    break
            else:
                raise InvalidState(f"job {parent_id} kept changing while a dependant was added; try again")
        return released

    async def ended(self, parent: Doc, now: datetime) -> bool:
        """Settle the dependants of a job whose end was just written (``parent``: its new
        content); transitively. Returns whether one was released."""
        if not parent.get("dependants"):
            return False
        released = False
        todo = [parent]
        while todo:
            doc = todo.pop()
            async for child in self.jobs.find({"parents": doc["_id"], "status": _WAITING}, {"_id": 1}):
                cancelled = await self._settle(doc, child["_id"], now)
                released = released or cancelled is False
                if isinstance(cancelled, dict) and cancelled.get("dependants"):
                    todo.append(cancelled)
        return released

    async def settle_edge(self, parent_id: str, parent: Doc, child_id: str, now: datetime) -> bool:
        """Settle one edge whose parent had ended; returns whether the child was released."""
        cancelled = await self._settle(parent, child_id, now)
        if isinstance(cancelled, dict) and cancelled.get("dependants"):
            await self.ended(cancelled, now)
        return cancelled is False

    async def _settle(self, parent: Doc, child_id: str, now: datetime) -> Doc | bool | None:
        """Settle the edge: the child's new content when it was cancelled, False when it was
        released, None otherwise (still waiting, or settled before)."""
        status = JobStatus(parent["status"])
        for _ in range(_ROUNDS):
            doc = await self.jobs.find_one({"_id": child_id})
            if doc is None or parent["_id"] in (doc.get("pdone") or ()):
                return None
            changes = settle(JOBS.job_from_mapping(doc), parent["_id"], status, parent.get("result"), now)
            if changes is None:
                return None
            new = {**doc, "pdone": [*(doc.get("pdone") or ()), parent["_id"]]}
            for name, value in changes.items():
                new[name] = value.value if isinstance(value, JobStatus) else value
            if (await self.cas.apply([(doc, new)], now))[0]:
                if new["status"] == JobStatus.CANCELLED.value:
                    return new
                return False if new["status"] == JobStatus.PENDING.value else None
        raise InvalidState(f"job {child_id} kept changing while its parent settled it; try again")
