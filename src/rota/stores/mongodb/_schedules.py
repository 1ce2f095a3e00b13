"""Schedule operations of the MongoDB store, and the crash-safe commit of a scheduler pass.

Every change of a schedule document is a compare-and-set on its internal ``ver``
(``Versioned.apply``, see _versioned.py); the public ``version`` grows on the writes the
contract names. ``commit_fires`` touches two kinds of document (the schedule and the fire's
jobs) without multi-document transactions, so it goes through an outbox kept in the
schedule document itself:

1. One compare-and-set of the schedule (checked: ``version``, ``lease_owner``, no pending
   outbox) advances next/last fire, clears the lease, bumps the version *and* stores the
   jobs to create under a fresh ``outbox_id``. Nothing is written when the check fails.
2. The jobs are inserted. Their key (one per schedule fire) is unique, so inserting again is
   a no-op; a job counts as created by this commit when the document stored under that key
   carries this commit's job id.
3. One compare-and-set drops the outbox and adds the created count to ``run_count``; only one
   flusher can win it, so the count is added once.

A crash after 1 leaves the outbox in the schedule; ``acquire_schedules`` (which every
scheduler calls each pass) and the next commit of that schedule flush pending outboxes
first, so no fire is lost and, by 2, none is created twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from rota._errors import InvalidState, ScheduleNotFound
from rota._models import Fence, FireCommit, Schedule
from rota.stores._parts import SchedulesPart
from rota.stores.mongodb._codec import (
    SCHEDULES,
    Doc,
    as_utc,
    definition_fields,
    job_to_doc,
    job_ukey,
    schedule_to_doc,
)
from rota.stores.mongodb._connection import MongoConnection, mapped
from rota.stores.mongodb._jobs import insert_jobs
from rota.stores.mongodb._versioned import FenceCheck, Versioned
from rota.stores.mongodb._wakeups import Wakeups

_ROUNDS = 16
_FLUSH_BATCH = 100
_NO_LEASE = {
    "lease_owner": None,
    "lease_expires_at": None,
    "lease_fence_name": None,
    "lease_fence_token": None,
}

SCHEDULE_INDEXES = [
    ("due", [("paused", ASCENDING), ("next_fire_at", ASCENDING)]),
    ("outbox", [("outbox_id", ASCENDING)]),
]


class MongoSchedules(SchedulesPart):
    """Schedules in ``<prefix>_schedules``; fenced writes read the lease through ``fence_ok``;
    writes that change when schedules fire (and jobs a commit creates) are published to
    other processes through ``wakeups``."""

    def __init__(self, db: MongoConnection, wakeups: Wakeups, *, fence_ok: FenceCheck) -> None:
        self._db = db
        self._wakeups = wakeups
        self._fence_ok = fence_ok

    @property
    def schedules(self) -> AsyncCollection[Doc]:
        return self._db.collection("schedules")

    @property
    def jobs(self) -> AsyncCollection[Doc]:
        return self._db.collection("jobs")

    async def prepare(self) -> None:
        """On open: create the indexes (idempotent)."""
        for name, keys in SCHEDULE_INDEXES:
            await self.schedules.create_index(keys, name=name)
        self.cas = Versioned(self.schedules, self._db.collection("marks"), fence_ok=self._fence_ok)

    async def _update(
        self, schedule_id: str, change: Callable[[Doc], Doc | None], now: datetime
    ) -> tuple[Doc | None, Doc | None]:
        """Apply ``change`` (None: no change wanted) until it wins; (doc read, new doc)."""
        for _ in range(_ROUNDS):
            doc = await self.schedules.find_one({"_id": schedule_id})
            if doc is None:
                return None, None
            new = change(doc)
            if new is None or (await self.cas.apply([(doc, new)], now))[0]:
                return doc, new
        raise InvalidState(f"schedule {schedule_id} kept changing; try again")

    @mapped
    async def put(self, schedule: Schedule, now: datetime) -> tuple[Schedule, bool]:
        stored, written = await self._put(schedule, now)
        if written:
            await self._wakeups.publish(self.schedules.name)
        return stored, written

    async def _put(self, schedule: Schedule, now: datetime) -> tuple[Schedule, bool]:
        for _ in range(_ROUNDS):
            current = await self.schedules.find_one({"_id": schedule.id})
            if current is None:
                fresh = schedule.replace(version=1, created_at=schedule.created_at or now, updated_at=now)
                doc = {**schedule_to_doc(fresh), "inc": uuid.uuid4().hex, "ver": 1}
                try:
                    await self.schedules.insert_one(doc)
                except DuplicateKeyError:
                    continue  # created meanwhile by another instance: compare with it
                return SCHEDULES.from_mapping(doc), True
            stored = SCHEDULES.from_mapping(current)
            if stored.same_definition(schedule):
                return stored, False
            new = {**current, **definition_fields(schedule), **_NO_LEASE, "updated_at": now}
            new["version"] = current["version"] + 1
            if schedule.trigger != stored.trigger:
                new["next_fire_at"] = schedule.next_fire_at
            if (await self.cas.apply([(current, new)], now))[0]:
                return SCHEDULES.from_mapping(new), True
        raise InvalidState(f"schedule {schedule.id} kept changing while being updated; try again")

    @mapped
    async def get(self, schedule_id: str) -> Schedule | None:
        doc = await self.schedules.find_one({"_id": schedule_id})
        return SCHEDULES.from_mapping(doc) if doc is not None else None

    @mapped
    async def all(self) -> list[Schedule]:
        return [SCHEDULES.from_mapping(d) async for d in self.schedules.find({}).sort("_id", 1)]

    @mapped
    async def remove(self, schedule_id: str) -> bool:
        for _ in range(_ROUNDS):
            doc = await self.schedules.find_one({"_id": schedule_id})
            if doc is None:
                return False
            # remove_schedule is given no time: its last write's stands in for the mark's
            when = as_utc(doc.get("updated_at") or doc.get("created_at"))
            if (await self.cas.apply([(doc, None)], when))[0]:
                if doc.get("outbox_id") is not None:  # a crashed pass's fires: still create them
                    await insert_jobs(self.jobs, doc.get("outbox") or [])
                return True
        raise InvalidState(f"schedule {schedule_id} kept changing while being removed; try again")

    @mapped
    async def set_paused(
        self, schedule_id: str, paused: bool, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        def change(doc: Doc) -> Doc:
            new = {**doc, **_NO_LEASE, "paused": paused, "updated_at": now, "version": doc["version"] + 1}
            if not paused and next_fire_at is not None:
                new["next_fire_at"] = next_fire_at
            return new

        _, new = await self._update(schedule_id, change, now)
        if new is None:
            raise ScheduleNotFound(schedule_id)
        await self._wakeups.publish(self.schedules.name)
        return SCHEDULES.from_mapping(new)

    @mapped
    async def acquire(
        self, owner: str, limit: int, until: datetime, now: datetime, fence: Fence | None
    ) -> list[Schedule]:
        await self.flush_pending(now)
        # the fence is read, then the schedules written (no multi-document transaction): a
        # term that ends in between leases schedules its pass then cannot commit (the commit
        # checks the fence again), and the next term takes them over at once
        if fence is not None and not await self._fence_ok(fence, now):
            return []
        free: list[Doc] = [{"lease_expires_at": None}, {"lease_expires_at": {"$lte": now}}]
        if fence is not None:  # leased under an ended term of this election
            free.append({"lease_fence_name": fence.name, "lease_fence_token": {"$lt": fence.token}})
        due = {"paused": False, "next_fire_at": {"$ne": None, "$lte": now}, "$or": free}
        term = {
            "lease_fence_name": fence.name if fence is not None else None,
            "lease_fence_token": fence.token if fence is not None else None,
        }
        taken: list[Schedule] = []
        for _ in range(_ROUNDS):
            need = limit - len(taken)
            cursor = self.schedules.find(due).sort([("next_fire_at", 1), ("_id", 1)]).limit(need)
            found = [d async for d in cursor]
            changes = [
                (
                    d,
                    {
                        **d,
                        "lease_owner": owner,
                        "lease_expires_at": until,
                        **term,
                        "updated_at": now,
                        "version": d["version"] + 1,
                    },
                )
                for d in found
            ]
            won = await self.cas.apply(changes, now, fence=fence)
            taken += [SCHEDULES.from_mapping(new) for (_, new), ok in zip(changes, won, strict=True) if ok]
            if all(won) or len(taken) >= limit:
                break
        taken.sort(key=lambda s: (s.next_fire_at, s.id))
        return taken

    @mapped
    async def commit(self, commit: FireCommit, now: datetime) -> tuple[bool, int]:
        applied, created = await self._commit(commit, now)
        if created:
            await self._wakeups.publish(self.jobs.name)
        return applied, created

    async def _commit(self, commit: FireCommit, now: datetime) -> tuple[bool, int]:
        docs: dict[str, Doc] = {}
        for job in commit.jobs:
            docs.setdefault(job_ukey(job), job_to_doc(job))
        jobs = list(docs.values())
        if jobs:
            clash = await self.jobs.find_one({"_id": {"$in": [d["_id"] for d in jobs]}}, {"ukey": 1})
            if clash is not None and clash["ukey"] not in docs:
                raise InvalidState(f"a job with id {clash['_id']} already exists")
        # the fence is read, then the schedule written: see docs/mongodb.md for the window
        if commit.fence is not None and not await self._fence_ok(commit.fence, now):
            return False, 0
        outbox_id = uuid.uuid4().hex if jobs else None
        for _ in range(_ROUNDS):
            doc = await self.schedules.find_one({"_id": commit.schedule_id})
            if doc is None or doc["version"] != commit.version or doc.get("lease_owner") != commit.owner:
                return False, 0
            if doc.get("outbox_id") is not None:  # a crashed pass's fires come first
                await self._flush(doc["_id"], doc["outbox_id"], now)
                continue
            new = {
                **doc,
                **_NO_LEASE,
                "next_fire_at": commit.next_fire_at,
                "last_fire_at": commit.last_fire_at,
                "updated_at": now,
                "version": doc["version"] + 1,
                "outbox_id": outbox_id,
                "outbox": jobs,
            }
            if (await self.cas.apply([(doc, new)], now, fence=commit.fence))[0]:
                break
        else:
            return False, 0
        if outbox_id is None:
            return True, 0
        return True, await self._flush(commit.schedule_id, outbox_id, now)

    async def flush_pending(self, now: datetime) -> None:
        """Finish the outboxes of passes that crashed between their writes."""
        cursor = self.schedules.find({"outbox_id": {"$type": "string"}}, {"outbox_id": 1})
        for doc in [d async for d in cursor.limit(_FLUSH_BATCH)]:
            await self._flush(doc["_id"], doc["outbox_id"], now)

    async def _flush(self, schedule_id: str, outbox_id: str, now: datetime) -> int:
        held = await self.schedules.find_one({"_id": schedule_id, "outbox_id": outbox_id})
        if held is None:
            return 0  # flushed meanwhile by someone else
        jobs: list[Doc] = held.get("outbox") or []
        stored = await insert_jobs(self.jobs, jobs)
        created = sum(1 for d in jobs if stored[d["ukey"]]["_id"] == d["_id"])

        def change(doc: Doc) -> Doc | None:
            if doc.get("outbox_id") != outbox_id:
                return None
            new = {**doc, "outbox_id": None, "outbox": [], "run_count": doc["run_count"] + created}
            if jobs:
                new["last_job_id"] = stored[jobs[-1]["ukey"]]["_id"]
            return new

        _, new = await self._update(schedule_id, change, now)
        return created if new is not None else 0

    async def record_failure(self, schedule_id: str, error: str | None, now: datetime) -> None:
        # statistics only: the version stays, so an in-flight scheduler commit still applies
        await self._update(
            schedule_id, lambda d: {**d, "fail_count": d["fail_count"] + 1, "last_error": error}, now
        )

    @mapped
    async def next_due(self) -> datetime | None:
        """Earliest of max(next_fire_at, lease expiry) over unpaused schedules."""
        best: datetime | None = None
        cursor = self.schedules.find(
            {"paused": False, "next_fire_at": {"$ne": None}},
            {"next_fire_at": 1, "lease_expires_at": 1},
        ).sort([("next_fire_at", 1), ("_id", 1)])
        async for doc in cursor.batch_size(64):
            fire = as_utc(doc["next_fire_at"])
            if best is not None and fire >= best:
                break
            lease = doc.get("lease_expires_at")
            when = max(fire, as_utc(lease)) if lease is not None else fire
            best = when if best is None else min(best, when)
        return best
