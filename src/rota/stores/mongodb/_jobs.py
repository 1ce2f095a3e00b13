"""Job operations of the MongoDB store.

Every change of a stored job is a compare-and-set on its version (``Versioned.apply``; see
_versioned.py for why it holds even on servers whose filtered updates are not atomic):
read the documents, compute their whole new content here, win each change by inserting its
unique mark, write the winners. Consequences:

* **Dedupe** needs no second document: the unique ``ukey`` index (the key, see _codec.py)
  refuses a second job with the key until the first is purged, on every compatible server.
* **History** is embedded in the job document (``log``): an attempt record and the state
  change it goes with (finish, cancel, reclaim of an expired lease) are one document write,
  so there is no second write to lose or to repeat.
* **Claims** read candidates with an indexed, sorted ``find`` and try to win each one; a job
  won by a racing claimer is lost here and the next candidates are tried. An expired lease
  is reclaimed in the same step: the new content records the ``lease_lost`` attempt and is
  either the new claim or, after the job's last attempt, ``failed``.
* **Limits**: jobs with limits (``lim: true``) are claimed only after the claim has won the
  gate document (_gate.py), which serialises the claims of such jobs; the others as above.
* The only cross-document write is a failed scheduled job's ``fail_count`` on its schedule,
  made after the job's change; a crash between them undercounts that statistic by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from rota._errors import InvalidState, JobNotFound
from rota._models import (
    AbortResult,
    AddResult,
    Attempt,
    ErrorInfo,
    Finish,
    FinishedCount,
    Job,
    JobFilter,
    JobStatus,
    LeaseRef,
    Outcome,
    Progress,
    QueueStats,
)
from rota.stores._deps import Linked, ParentState, link_batch
from rota.stores._parts import JobsPart
from rota.stores.mongodb import _reads as reads
from rota.stores.mongodb._claim import (
    CLAIM_ORDER,
    LEASE_LOST_ERROR,
    LIMITED,
    NO_LEASE,
    PENDING,
    RUNNING,
    UNLIMITED,
    choose,
    claimed_doc,
)
from rota.stores.mongodb._codec import (
    FINAL,
    JOB_PROJECTION,
    JOBS,
    Doc,
    as_utc,
    count_of,
    job_to_doc,
    job_ukey,
    logged,
)
from rota.stores.mongodb._connection import MongoConnection, duplicate_indexes, mapped
from rota.stores.mongodb._deps import Dependencies
from rota.stores.mongodb._gate import GateDoc
from rota.stores.mongodb._versioned import FenceCheck, Versioned
from rota.stores.mongodb._wakeups import Wakeups

_ROUNDS = 16  # rounds of "read, try to win" when racing writers win some
_SPARE = 8
_LOOKUPS = 16  # up to this many ids are looked up one by one rather than with $in
#: Held-back limited jobs a claim passes over, at most (see MemoryJobs.claim).
HELD_SCAN = 1000

FailureHook = Callable[[str, str | None, datetime], Awaitable[None]]

JOB_INDEXES: list[tuple[str, list[tuple[str, int]], dict[str, Any]]] = [
    ("ukey", [("ukey", ASCENDING)], {"unique": True}),
    ("claim", [("queue", 1), ("status", 1), ("priority", -1), ("due_at", 1), ("_id", 1)], {}),
    ("due", [("queue", 1), ("status", 1), ("due_at", 1)], {}),
    ("expiry", [("queue", 1), ("status", 1), ("lease_expires_at", 1)], {}),
    ("finished", [("status", 1), ("finished_at", 1)], {}),
    ("schedule", [("schedule_id", 1), ("_id", 1)], {}),
    # list_jobs: a page walks one of these in id order (queue and task never change, so
    # their entries cost nothing on claim or finish)
    ("status_id", [("status", 1), ("_id", 1)], {}),
    ("queue_id", [("queue", 1), ("_id", 1)], {}),
    ("task_id", [("task", 1), ("_id", 1)], {}),
    # jobs with limits (only they have "lim"), in claim order; running ones of a key
    ("limited", [("lim", 1), ("queue", 1), ("status", 1), ("priority", -1), ("due_at", 1), ("_id", 1)], {}),
    ("holding", [("concurrency_key", 1), ("status", 1), ("lease_expires_at", 1)], {}),
    # the waiting children of a job that ends (see _deps.py)
    ("parents", [("parents", 1), ("status", 1)], {}),
]


class MongoJobs(JobsPart):
    """Jobs in ``<prefix>_jobs``. Fenced finishes read the lease through ``fence_ok``; a
    scheduled job that fails is counted on its schedule through ``on_failed``; writes that
    make work runnable are published to other processes through ``wakeups``."""

    def __init__(
        self, db: MongoConnection, wakeups: Wakeups, *, fence_ok: FenceCheck, on_failed: FailureHook
    ) -> None:
        self._db = db
        self._wakeups = wakeups
        self._fence_ok = fence_ok
        self._on_failed = on_failed

    @property
    def jobs(self) -> AsyncCollection[Doc]:
        return self._db.collection("jobs")

    async def prepare(self) -> None:
        """On open: create the indexes (idempotent: same name and spec is a no-op, in any
        number of processes)."""
        for name, keys, extra in JOB_INDEXES:
            await self.jobs.create_index(keys, name=name, **extra)
        self.cas = Versioned(self.jobs, self._db.collection("marks"))
        self.deps = Dependencies(self.jobs, self.cas)
        self.gatekeeper = GateDoc(self._db.collection("limits"), self._db.collection("marks"), self.jobs)

    # -- add -----------------------------------------------------------------------------

    @mapped
    async def add(self, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
        # a taken id returns its holder (a retried add whose reply was lost, a caller's id)
        held = await self._stored([job.id for job in jobs])
        linked = None
        if any(job.parents is not None for job in jobs):
            linked = await self._link(jobs, now, {i: JOBS.job_from_mapping(d) for i, d in held.items()})
            jobs = linked.jobs
        # the parents the link already counted off (every one but those it waits for): they
        # settled their edge, so count_on_parents must not count them off again
        open_edges = set(linked.edges) if linked is not None else set()
        firsts: dict[str, int] = {}  # ukey -> index of the first input using it
        sent: dict[str, Doc] = {}  # ukey -> the document sent for it
        for n, job in enumerate(jobs):
            ukey = job_ukey(job)
            if job.id not in held and ukey not in firsts:
                firsts[ukey] = n
                sent[ukey] = job_to_doc(job)
                if job.parents:
                    done = [p for p in job.parents if (p, job.id) not in open_edges]
                    if done:
                        sent[ukey]["pdone"] = done
        stored = await insert_jobs(self.jobs, list(sent.values()))
        results: list[AddResult] = []
        for n, job in enumerate(jobs):
            if job.id in held:
                results.append(AddResult(job=JOBS.job_from_mapping(held[job.id]), created=False))
                continue
            ukey = job_ukey(job)
            doc = stored[ukey]
            # ours when the stored document is the one sent (not a holder read back)
            created = firsts[ukey] == n and doc is sent[ukey]
            results.append(AddResult(job=JOBS.job_from_mapping(doc), created=created))
        if linked is not None:
            for res in results:
                if res.created and res.job.parents is not None:
                    await self.deps.count_on_parents(res.job.id, list(res.job.parents), now)
        if any(r.created for r in results):
            await self._wakeups.publish(self.jobs.name)
        return results

    async def _link(self, jobs: Sequence[Job], now: datetime, stored: dict[str, Job]) -> Linked:
        keys = [job_ukey(j) for j in jobs if j.key is not None]
        holders: dict[str, Job] = {}
        if keys:
            async for doc in self.jobs.find({"ukey": {"$in": keys}}, JOB_PROJECTION):
                held = JOBS.job_from_mapping(doc)
                if held.key is not None:
                    holders[held.key] = held
        wanted = sorted({p for j in jobs for p in j.parents or ()} - {h.id for h in holders.values()})
        found = await asyncio.gather(
            *(self.jobs.find_one({"_id": i}, {"status": 1, "result": 1}) for i in wanted)
        )
        parents = {
            doc["_id"]: ParentState(JobStatus(doc["status"]), doc.get("result"))
            for doc in found
            if doc is not None
        }
        return link_batch(jobs, now, holders, parents, stored)

    async def _stored(self, ids: list[str]) -> dict[str, Doc]:
        """The stored jobs among ``ids``, by id. A few ids are looked up one by one by _id,
        the only filter FerretDB 1.x answers without scanning the collection."""
        if len(ids) > _LOOKUPS:
            return {d["_id"]: d async for d in self.jobs.find({"_id": {"$in": ids}}, JOB_PROJECTION)}
        found = await asyncio.gather(*(self.jobs.find_one({"_id": i}, JOB_PROJECTION) for i in ids))
        return {f["_id"]: f for f in found if f is not None}

    # -- claim and its lease -------------------------------------------------------------

    @mapped
    async def claim(
        self, queues: list[str], worker: str, limit: int, until: datetime, now: datetime
    ) -> list[Job]:
        runnable = {
            "queue": {"$in": queues},
            "$or": [
                {"status": PENDING, "due_at": {"$lte": now}},
                {"status": RUNNING, "lease_expires_at": {"$lte": now}},
            ],
        }
        limited = {**LIMITED, **runnable}
        if await self.jobs.find_one(limited, {"_id": 1}) is not None:
            return await self._claim_limited(
                {**UNLIMITED, **runnable}, limited, worker=worker, limit=limit, until=until, now=now
            )
        claimed: list[Job] = []
        plain = {**UNLIMITED, **runnable}
        for _ in range(_ROUNDS):
            # a few spare candidates: one lost to a racing claimer is replaced without a query
            want = limit - len(claimed) + _SPARE
            found = [d async for d in self.jobs.find(plain).sort(CLAIM_ORDER).limit(want)]
            tried = 0
            while tried < len(found) and len(claimed) < limit:
                batch = found[tried : tried + limit - len(claimed)]
                tried += len(batch)
                await self._take([(d, claimed_doc(d, worker, until, now)) for d in batch], now, claimed)
            if len(claimed) >= limit or len(found) < want:
                break
        claimed.sort(key=lambda j: (-j.priority, j.due_at, j.id))
        return claimed

    async def _claim_limited(
        self, plain: Doc, limited: Doc, *, worker: str, limit: int, until: datetime, now: datetime
    ) -> list[Job]:
        """A claim when jobs with limits are runnable: candidates of both kinds in claim order,
        the limited ones held to their limits by a ``Gate`` over the gate document, which
        the claim wins before it writes a job (and reads again when another claim won it)."""
        claimed: list[Job] = []
        for _ in range(_ROUNDS):
            want = limit - len(claimed)
            if want <= 0:
                break
            size = 2 * want + 16
            while True:
                docs = [d async for d in self.jobs.find(limited).sort(CLAIM_ORDER).limit(size)]
                others = [d async for d in self.jobs.find(plain).sort(CLAIM_ORDER).limit(want + _SPARE)]
                state = await self.gatekeeper.read(now)
                keys = [d["concurrency_key"] for d in docs if isinstance(d.get("concurrency_key"), str)]
                gate = await self.gatekeeper.gate(state, keys, now)
                changes, passed = choose(docs, others, gate, want=want, worker=worker, until=until, now=now)
                if len(changes) >= want or len(docs) < size or size > HELD_SCAN or passed >= HELD_SCAN:
                    break
                size *= 4  # every limited job read was held back: read further
            taken = [
                (new["_id"], new["token"], new.get("concurrency_key"), until)
                for _, new in changes
                if new["status"] == RUNNING and new.get("lim")
            ]
            if (taken or gate.changed()) and not await self.gatekeeper.write(state, gate, taken, now):
                continue  # another claim won the gate since it was read: decide again
            before = len(claimed)
            await self._take(changes, now, claimed)
            running = sum(new["status"] == RUNNING for _, new in changes)
            if len(claimed) - before == running and running == len(changes):
                break  # nothing lost to a racing claimer, and no expired job changed: all seen
        claimed.sort(key=lambda j: (-j.priority, j.due_at, j.id))
        return claimed

    async def _take(self, changes: list[tuple[Doc, Doc]], now: datetime, claimed: list[Job]) -> None:
        won = await self.cas.apply(changes, now)
        for (old, new), ok in zip(changes, won, strict=True):
            if not ok:
                continue
            if new["status"] == RUNNING:
                claimed.append(JOBS.job_from_mapping(new))
            elif new["status"] == JobStatus.FAILED.value and old.get("schedule_id"):
                await self._on_failed(old["schedule_id"], LEASE_LOST_ERROR, now)  # its last attempt was lost
            if new["status"] == JobStatus.FAILED.value and await self.deps.ended(new, now):
                await self._wakeups.publish(self.jobs.name)

    async def _held(self, refs: Sequence[tuple[str, int]]) -> dict[str, Doc]:
        """The running documents of these (job id, token) pairs that still match."""
        # one lookup by _id each, concurrently: a lookup by _id alone is the one every
        # compatible server answers from its primary key (FerretDB 1.x has no other)
        ids = list({j for j, _ in refs})
        found = await asyncio.gather(*(self.jobs.find_one({"_id": j}) for j in ids))
        docs = {d["_id"]: d for d in found if d is not None and d["status"] == RUNNING}
        return {j: docs[j] for j, t in refs if j in docs and docs[j]["token"] == t}

    @mapped
    async def heartbeat(self, leases: Sequence[LeaseRef], until: datetime, now: datetime) -> list[str]:
        pending = {r.job_id: r.token for r in leases}
        extended: set[str] = set()
        for _ in range(_ROUNDS):
            held = await self._held(list(pending.items()))
            live = [
                d
                for d in held.values()
                if d["lease_expires_at"] is not None and as_utc(d["lease_expires_at"]) > now
            ]
            changes = [(d, {**d, "lease_expires_at": until}) for d in live]
            won = await self.cas.apply(changes, now)
            retry = {d["_id"] for (d, _), ok in zip(changes, won, strict=True) if not ok}
            extended |= {d["_id"] for d in live} - retry
            pending = {j: t for j, t in pending.items() if j in retry}
            if not pending:
                break
        return [r.job_id for r in leases if r.job_id not in extended]

    @mapped
    async def finish(self, results: Sequence[Finish], worker: str, now: datetime) -> list[bool]:
        applied = [False] * len(results)
        freed = False  # a job with a concurrency key stopped running: a slot is free
        todo = list(range(len(results)))
        for _ in range(_ROUNDS):
            held = await self._held([(results[n].job_id, results[n].token) for n in todo])
            changes: list[tuple[Doc, Doc]] = []
            which: list[int] = []
            for n in todo:
                res, doc = results[n], held.get(results[n].job_id)
                if doc is None or any(doc is c[0] for c in changes):
                    continue  # stale token (or a second result for one claim in this batch)
                # the fence is read, then the job written: see docs/mongodb.md for the window
                if res.fence is not None and not await self._fence_ok(res.fence, now):
                    continue
                changes.append((doc, self._finished(doc, res, worker, now)))
                which.append(n)
            won = await self.cas.apply(changes, now)
            for n, (old, new), ok in zip(which, changes, won, strict=True):
                applied[n] = ok
                freed = freed or (ok and old.get("concurrency_key") is not None)
                if ok and new["status"] == JobStatus.FAILED.value and old.get("schedule_id"):
                    await self._on_failed(old["schedule_id"], new.get("last_error"), now)
                if ok and new["status"] in FINAL:
                    freed = await self.deps.ended(new, now) or freed
            todo = [n for n, ok in zip(which, won, strict=True) if not ok]
            if not todo:
                break
        if freed:
            await self._wakeups.publish(self.jobs.name)
        return applied

    @staticmethod
    def _finished(doc: Doc, res: Finish, worker: str, now: datetime) -> Doc:
        status = res.final_status
        new = {**doc, **NO_LEASE, "status": status.value, "result": res.result}
        if res.error is not None:
            new["last_error"] = res.error.summary()
        if status is JobStatus.PENDING:
            new["due_at"] = res.retry_at
        else:
            new["finished_at"] = now
        new["log"] = logged(doc, res.outcome, now, worker=worker, error=res.error)
        if res.progress is not None:
            new.update(_progress(res.progress, now))
        return new

    @mapped
    async def set_progress(self, lease: LeaseRef, progress: Progress, now: datetime) -> bool:
        for _ in range(_ROUNDS):
            doc = (await self._held([(lease.job_id, lease.token)])).get(lease.job_id)
            if doc is None:
                return False
            if (await self.cas.apply([(doc, {**doc, **_progress(progress, now)})], now))[0]:
                return True
        raise InvalidState(f"job {lease.job_id} kept changing while its progress was written; try again")

    @mapped
    async def release(self, leases: Sequence[LeaseRef], now: datetime) -> int:
        pending = {r.job_id: r.token for r in leases}
        released = 0
        for _ in range(_ROUNDS):
            held = await self._held(list(pending.items()))
            changes = [(d, self._released(d, now)) for d in held.values()]
            won = await self.cas.apply(changes, now)
            released += sum(won)
            pending = {d["_id"]: d["token"] for (d, _), ok in zip(changes, won, strict=True) if not ok}
            if not pending:
                break
        if released:
            await self._wakeups.publish(self.jobs.name)
        return released

    @staticmethod
    def _released(doc: Doc, now: datetime) -> Doc:
        return {
            **doc,
            **NO_LEASE,
            "status": PENDING,
            "attempts": max(0, count_of(doc.get("attempts"), 1) - 1),
            "log": logged(doc, Outcome.RELEASED, now),
        }

    # -- reads (_reads.py) and operator actions ------------------------------------------

    @mapped
    async def get(self, job_id: str) -> Job | None:
        return await reads.get_job(self.jobs, job_id)

    @mapped
    async def find(self, flt: JobFilter) -> list[Job]:
        return await reads.find_jobs(self.jobs, flt)

    @mapped
    async def attempts(self, job_id: str) -> list[Attempt]:
        return await reads.job_attempts(self.jobs, job_id)

    @mapped
    async def cancel(self, job_id: str, now: datetime) -> Job:
        doc, changed = await self._stop(job_id, now, Outcome.CANCELLED, None, "cancelled")
        if not changed:
            raise InvalidState(f"job {job_id} is already {doc['status']}")
        return JOBS.job_from_mapping(doc)

    @mapped
    async def abort(self, job_id: str, error: ErrorInfo, now: datetime) -> AbortResult:
        doc, changed = await self._stop(job_id, now, Outcome.ABORTED, error, "aborted")
        return AbortResult(JOBS.job_from_mapping(doc), applied=changed)

    async def _stop(
        self, job_id: str, now: datetime, outcome: Outcome, error: ErrorInfo | None, doing: str
    ) -> tuple[Doc, bool]:
        """An operator's cancel (``error`` None) or abort: the job's document and True once it
        is cancelled by this call, or its document as it is and False if it had already ended.
        A running job's attempt is recorded with ``outcome``; its dependants settle as for any
        end."""
        for _ in range(_ROUNDS):
            doc = await self.jobs.find_one({"_id": job_id})
            if doc is None:
                raise JobNotFound(job_id)
            if doc["status"] in FINAL:
                return doc, False
            new = {**doc, **NO_LEASE, "status": JobStatus.CANCELLED.value, "finished_at": now}
            if error is not None:
                new["last_error"] = error.summary()
            if doc["status"] == RUNNING:
                new["log"] = logged(doc, outcome, now, error=error)
            if (await self.cas.apply([(doc, new)], now))[0]:
                released = await self.deps.ended(new, now)
                if released or (doc["status"] == RUNNING and doc.get("concurrency_key") is not None):
                    await self._wakeups.publish(self.jobs.name)  # a slot is free, or a job released
                return new, True
        raise InvalidState(f"job {job_id} kept changing while being {doing}; try again")

    @mapped
    async def requeue(self, job_id: str, now: datetime) -> Job:
        for _ in range(_ROUNDS):
            doc = await self.jobs.find_one({"_id": job_id})
            if doc is None:
                raise JobNotFound(job_id)
            if doc["status"] not in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
                raise InvalidState(
                    f"only failed or cancelled jobs can be requeued; {job_id} is {doc['status']}"
                )
            new = {**doc, **NO_LEASE, "status": PENDING, "due_at": now, "attempts": 0, "finished_at": None}
            if (await self.cas.apply([(doc, new)], now))[0]:
                await self._wakeups.publish(self.jobs.name)
                return JOBS.job_from_mapping(new)
        raise InvalidState(f"job {job_id} kept changing while being requeued; try again")

    @mapped
    async def purge(self, finished_before: datetime, limit: int, statuses: list[str]) -> int:
        old = {"status": {"$in": statuses}, "finished_at": {"$lt": finished_before}}
        fields = {"_id": 1, "inc": 1, "ver": 1}
        found = [d async for d in self.jobs.find(old, fields).sort("finished_at", 1).limit(limit)]
        # deleting goes through the marks too: a job requeued meanwhile is not deleted
        won = await self.cas.apply([(d, None) for d in found], finished_before)
        await self.cas.forget_before(finished_before)
        return sum(won)

    @mapped
    async def stats(self, now: datetime | None) -> QueueStats:
        return await reads.queue_stats(self.jobs, now)

    @mapped
    async def count_finished(
        self, since: datetime, until: datetime, bucket: timedelta
    ) -> list[FinishedCount]:
        return await reads.finished_counts(self.jobs, since, until, bucket)

    @mapped
    async def next_due(self, queues: list[str]) -> datetime | None:
        return await reads.next_due(self.jobs, self.gatekeeper, queues)


def _progress(progress: Progress, now: datetime) -> Doc:
    return {"progress": progress.fraction, "progress_message": progress.message, "progress_at": now}


async def insert_jobs(jobs: AsyncCollection[Doc], docs: Sequence[Doc]) -> dict[str, Doc]:
    """Insert idempotently; returns each doc's ``ukey`` -> the document stored under it
    (ours, inserted now or by an earlier try, or the one already holding that key)."""
    out: dict[str, Doc] = {}
    todo = list(docs)
    for _ in range(3):  # a holder purged before we read it: insert again
        dup: set[int] = set()
        if todo:
            try:
                await jobs.insert_many(todo, ordered=False)
            except BulkWriteError as exc:
                dup = duplicate_indexes(exc)
        for n, doc in enumerate(todo):
            if n not in dup:
                out[doc["ukey"]] = doc
        if not dup:
            return out
        wanted = [todo[n]["ukey"] for n in sorted(dup)]
        async for existing in jobs.find({"ukey": {"$in": wanted}}, JOB_PROJECTION):
            out[existing["ukey"]] = existing
        for n in sorted(dup):
            doc = todo[n]
            if doc["ukey"] not in out:  # refused for its id, not its key: that job is the answer
                holder = await jobs.find_one({"_id": doc["_id"]}, JOB_PROJECTION)
                if holder is not None:
                    out[doc["ukey"]] = holder
        todo = [d for d in todo if d["ukey"] not in out]
        if not todo:
            return out
    raise InvalidState("jobs kept vanishing while being deduplicated; try again")
