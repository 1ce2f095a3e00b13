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
* The only cross-document write is a failed scheduled job's ``fail_count`` on its schedule,
  made after the job's change; a crash between them undercounts that statistic by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from rota._errors import ConfigError, InvalidState, JobNotFound
from rota._models import (
    FINAL_STATUSES,
    AddResult,
    Attempt,
    Fence,
    Finish,
    Job,
    JobFilter,
    JobStatus,
    LeaseRef,
    Outcome,
    QueueStats,
)
from rota.stores.mongodb._buckets import Buckets, IndexSpec
from rota.stores.mongodb._claims import Claims, Token
from rota.stores.mongodb._codec import (
    JOB_PROJECTION,
    Doc,
    as_utc,
    attempt_doc,
    attempts_from_doc,
    job_from_doc,
    job_to_doc,
    job_ukey,
)
from rota.stores.mongodb._errors import duplicate_indexes

LEASE_LOST_ERROR = "LeaseLost: the worker stopped heartbeating"
_PENDING, _RUNNING = JobStatus.PENDING.value, JobStatus.RUNNING.value
_FINAL = [s.value for s in FINAL_STATUSES]
_ROUNDS = 16  # rounds of "read, try to win" when racing writers win some
_SPARE = 8
_LOOKUPS = 16  # up to this many ids are looked up one by one rather than with $in
_NO_LEASE = {"lease_owner": None, "lease_expires_at": None}

FenceCheck = Callable[[Fence, datetime], Awaitable[bool]]
FailureHook = Callable[[str, str | None, datetime], Awaitable[None]]

JOB_INDEXES: list[IndexSpec] = [
    ("ukey", [("ukey", ASCENDING)], {"unique": True}),
    ("claim", [("queue", 1), ("status", 1), ("priority", -1), ("due_at", 1), ("_id", 1)], {}),
    ("due", [("queue", 1), ("status", 1), ("due_at", 1)], {}),
    ("expiry", [("queue", 1), ("status", 1), ("lease_expires_at", 1)], {}),
    ("finished", [("status", 1), ("finished_at", 1)], {}),
    ("schedule", [("schedule_id", 1), ("_id", 1)], {}),
]


class JobOps:
    def __init__(self, buckets: Buckets, *, fence_ok: FenceCheck, on_failed: FailureHook) -> None:
        self.buckets = buckets
        self._fence_ok = fence_ok
        self._on_failed = on_failed
        self._claims = Claims(buckets)
        self.retried = False  # a finish made a job pending again since the store last looked

    def set_token(self, token: Token) -> None:
        """Where claims read the token that says whether new work appeared (see _claims.py)."""
        self._claims.token = token

    async def _apply(self, changes: Sequence[tuple[int, Doc, Doc | None]], now: datetime) -> list[bool]:
        """``Versioned.apply`` per bucket; ``changes`` are (bucket, document read, new content)."""
        by: dict[int, list[int]] = {}
        for k, (n, _, _) in enumerate(changes):
            by.setdefault(n, []).append(k)
        won = [False] * len(changes)

        async def one(n: int, ks: list[int]) -> None:
            res = await self.buckets.cas[n].apply([(changes[k][1], changes[k][2]) for k in ks], now)
            for k, ok in zip(ks, res, strict=True):
                won[k] = ok

        await asyncio.gather(*(one(n, ks) for n, ks in by.items()))
        for (n, old, new), ok in zip(changes, won, strict=True):
            if ok:
                self._claims.written(n, old, new)
        await self._claims.lost([(n, old) for (n, old, _), ok in zip(changes, won, strict=True) if not ok])
        return won

    # -- add -----------------------------------------------------------------------------

    async def add(self, jobs: Sequence[Job], now: datetime) -> list[AddResult]:
        if not jobs:
            return []
        ids: set[str] = set()
        for job in jobs:
            check_new_job(job)
            if job.id in ids:
                raise InvalidState(f"job id {job.id} appears twice in one add")
            ids.add(job.id)
        # refuse the whole batch before writing anything (atomic per job beyond this check)
        clash = await self.buckets.locate(ids, {"_id": 1}, everywhere=False)
        if clash:
            raise InvalidState(f"a job with id {next(iter(clash))} already exists")

        firsts: dict[str, int] = {}  # ukey -> index of the first input using it
        docs: list[Doc] = []
        for n, job in enumerate(jobs):
            ukey = job_ukey(job)
            if ukey not in firsts:
                firsts[ukey] = n
                docs.append(job_to_doc(job, created_at=job.created_at or now))
        stored = await insert_jobs(self.buckets, docs)
        results: list[AddResult] = []
        for n, job in enumerate(jobs):
            ukey = job_ukey(job)
            doc = stored[ukey]
            created = doc["_id"] == job.id and firsts[ukey] == n
            results.append(AddResult(job=job_from_doc(doc), created=created))
        return results

    # -- claim and its lease -------------------------------------------------------------

    async def claim(
        self, queues: Sequence[str], worker: str, limit: int, lease_for: timedelta, now: datetime
    ) -> list[Job]:
        if limit <= 0 or not queues:
            return []
        qs = list(dict.fromkeys(queues))
        claimed: list[Job] = []
        for _ in range(_ROUNDS):
            # a few spare candidates: one lost to a racing claimer is replaced without a query
            want = limit - len(claimed) + _SPARE
            found = await self._claims.candidates(qs, want, now)
            tried = 0
            while tried < len(found) and len(claimed) < limit:
                batch = found[tried : tried + limit - len(claimed)]
                tried += len(batch)
                await self._take(batch, worker, lease_for, now, claimed)
            if len(claimed) >= limit or len(found) < want:
                break
        claimed.sort(key=lambda j: (-j.priority, j.due_at, j.id))
        return claimed

    async def _take(
        self,
        docs: list[tuple[int, Doc]],
        worker: str,
        lease_for: timedelta,
        now: datetime,
        claimed: list[Job],
    ) -> None:
        changes = [(n, d, self._claimed(d, worker, now + lease_for, now)) for n, d in docs]
        won = await self._apply(changes, now)
        for (n, old, new), ok in zip(changes, won, strict=True):
            if not ok:
                continue
            self.buckets.remember(old["_id"], n)
            if new["status"] == _RUNNING:
                claimed.append(job_from_doc(new))
            elif old.get("schedule_id"):  # its last attempt was lost with its worker
                await self._on_failed(old["schedule_id"], LEASE_LOST_ERROR, now)

    @staticmethod
    def _claimed(doc: Doc, worker: str, until: datetime, now: datetime) -> Doc:
        new = dict(doc)
        if doc["status"] == _RUNNING:  # its worker vanished: record the lost attempt first
            lost = attempt_doc(
                number=doc["token"],
                worker=doc.get("lease_owner") or "",
                started_at=doc.get("started_at") or now,
                finished_at=now,
                outcome=Outcome.LEASE_LOST,
            )
            new["log"] = [*doc.get("log", []), lost]
            if doc["attempts"] >= doc["max_attempts"]:
                new.update(
                    _NO_LEASE, status=JobStatus.FAILED.value, finished_at=now, last_error=LEASE_LOST_ERROR
                )
                return new
        new.update(
            status=_RUNNING,
            lease_owner=worker,
            lease_expires_at=until,
            started_at=now,
            token=doc["token"] + 1,
            attempts=doc["attempts"] + 1,
        )
        return new

    async def _held(self, refs: Sequence[tuple[str, int]]) -> dict[str, tuple[int, Doc]]:
        """The running documents (with their buckets) of these (job id, token) pairs that still match."""
        found = await self.buckets.locate(j for j, _ in refs)
        out: dict[str, tuple[int, Doc]] = {}
        for j, t in refs:
            if j in found and found[j][1]["status"] == _RUNNING and found[j][1]["token"] == t:
                out[j] = found[j]
        return out

    async def heartbeat(self, leases: Sequence[LeaseRef], lease_for: timedelta, now: datetime) -> list[str]:
        pending = {r.job_id: r.token for r in leases}
        extended: set[str] = set()
        for _ in range(_ROUNDS):
            held = await self._held(list(pending.items()))
            live = [
                (n, d)
                for n, d in held.values()
                if d["lease_expires_at"] is not None and as_utc(d["lease_expires_at"]) > now
            ]
            changes = [(n, d, {**d, "lease_expires_at": now + lease_for}) for n, d in live]
            won = await self._apply(changes, now)
            retry = {d["_id"] for (_, d, _), ok in zip(changes, won, strict=True) if not ok}
            extended |= {d["_id"] for _, d in live} - retry
            pending = {j: t for j, t in pending.items() if j in retry}
            if not pending:
                break
        return [r.job_id for r in leases if r.job_id not in extended]

    async def finish(self, results: Sequence[Finish], worker: str, now: datetime) -> list[bool]:
        applied = [False] * len(results)
        todo = list(range(len(results)))
        retried = False
        for _ in range(_ROUNDS):
            held = await self._held([(results[n].job_id, results[n].token) for n in todo])
            changes: list[tuple[int, Doc, Doc | None]] = []
            which: list[int] = []
            for n in todo:
                res, got = results[n], held.get(results[n].job_id)
                if got is None or any(got[1] is c[1] for c in changes):
                    continue  # stale token (or a second result for one claim in this batch)
                # the fence is read, then the job written: see docs/mongodb.md for the window
                if res.fence is not None and not await self._fence_ok(res.fence, now):
                    continue
                changes.append((got[0], got[1], self._finished(got[1], res, worker, now)))
                which.append(n)
            won = await self._apply(changes, now)
            for n, (_, old, new), ok in zip(which, changes, won, strict=True):
                applied[n] = ok
                assert new is not None
                retried = retried or (ok and new["status"] == _PENDING)
                if ok and new["status"] == JobStatus.FAILED.value and old.get("schedule_id"):
                    await self._on_failed(old["schedule_id"], new.get("last_error"), now)
            todo = [n for n, ok in zip(which, won, strict=True) if not ok]
            if not todo:
                break
        if retried:
            self.retried = True
        return applied

    @staticmethod
    def _finished(doc: Doc, res: Finish, worker: str, now: datetime) -> Doc:
        status = res.final_status
        new = {**doc, **_NO_LEASE, "status": status.value, "result": res.result}
        if res.error is not None:
            new["last_error"] = res.error.summary()
        if status is JobStatus.PENDING:
            new["due_at"] = res.retry_at
        else:
            new["finished_at"] = now
        record = attempt_doc(
            number=res.token,
            worker=worker,
            started_at=doc.get("started_at") or now,
            finished_at=now,
            outcome=res.outcome,
            error=res.error,
        )
        new["log"] = [*doc.get("log", []), record]
        return new

    async def release(self, leases: Sequence[LeaseRef], now: datetime) -> int:
        pending = {r.job_id: r.token for r in leases}
        released = 0
        for _ in range(_ROUNDS):
            held = await self._held(list(pending.items()))
            changes = [
                (n, d, {**d, **_NO_LEASE, "status": _PENDING, "attempts": max(0, d["attempts"] - 1)})
                for n, d in held.values()
            ]
            won = await self._apply(changes, now)
            released += sum(won)
            pending = {d["_id"]: d["token"] for (_, d, _), ok in zip(changes, won, strict=True) if not ok}
            if not pending:
                break
        return released

    # -- reads and operator actions ------------------------------------------------------

    async def _one(self, job_id: str, projection: Mapping[str, int] | None = None) -> tuple[int, Doc] | None:
        return (await self.buckets.locate([job_id], projection)).get(job_id)

    async def get(self, job_id: str) -> Job | None:
        got = await self._one(job_id, JOB_PROJECTION)
        return job_from_doc(got[1]) if got is not None else None

    async def select(self, flt: JobFilter) -> list[Job]:
        if flt.limit <= 0:
            return []
        query: Doc = {}
        for name in ("queue", "task", "schedule_id"):
            if getattr(flt, name) is not None:
                query[name] = getattr(flt, name)
        if flt.status is not None:
            query["status"] = flt.status.value
        if flt.after_id is not None:
            query["_id"] = {"$gt": flt.after_id}

        async def part(_: int, coll: AsyncCollection[Doc]) -> list[Doc]:
            return await coll.find(query, JOB_PROJECTION).sort("_id", 1).limit(flt.limit).to_list()

        docs = sorted((d for ds in await self.buckets.each(part) for d in ds), key=lambda d: d["_id"])
        return [job_from_doc(d) for d in docs[: flt.limit]]

    async def attempts(self, job_id: str) -> list[Attempt]:
        got = await self._one(job_id, {"log": 1})
        return attempts_from_doc(job_id, got[1]) if got is not None else []

    async def cancel(self, job_id: str, now: datetime) -> Job:
        for _ in range(_ROUNDS):
            got = await self._one(job_id)
            if got is None:
                raise JobNotFound(job_id)
            n, doc = got
            if doc["status"] in _FINAL:
                raise InvalidState(f"job {job_id} is already {doc['status']}")
            new = {**doc, **_NO_LEASE, "status": JobStatus.CANCELLED.value, "finished_at": now}
            if doc["status"] == _RUNNING:
                cancelled = attempt_doc(
                    number=doc["token"],
                    worker=doc.get("lease_owner") or "",
                    started_at=doc.get("started_at") or now,
                    finished_at=now,
                    outcome=Outcome.CANCELLED,
                )
                new["log"] = [*doc.get("log", []), cancelled]
            if (await self._apply([(n, doc, new)], now))[0]:
                return job_from_doc(new)
        raise InvalidState(f"job {job_id} kept changing while being cancelled; try again")

    async def requeue(self, job_id: str, now: datetime) -> Job:
        for _ in range(_ROUNDS):
            got = await self._one(job_id)
            if got is None:
                raise JobNotFound(job_id)
            n, doc = got
            if doc["status"] not in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
                raise InvalidState(
                    f"only failed or cancelled jobs can be requeued; {job_id} is {doc['status']}"
                )
            new = {**doc, **_NO_LEASE, "status": _PENDING, "due_at": now, "attempts": 0, "finished_at": None}
            if (await self._apply([(n, doc, new)], now))[0]:
                return job_from_doc(new)
        raise InvalidState(f"job {job_id} kept changing while being requeued; try again")

    async def purge(self, finished_before: datetime, limit: int) -> int:
        if limit <= 0:
            return 0
        old = {"status": {"$in": _FINAL}, "finished_at": {"$lt": finished_before}}
        fields = {"_id": 1, "inc": 1, "ver": 1, "finished_at": 1}

        async def part(n: int, coll: AsyncCollection[Doc]) -> list[tuple[int, Doc]]:
            cursor = coll.find(old, fields).sort([("finished_at", 1), ("_id", 1)]).limit(limit)
            return [(n, d) async for d in cursor]

        found = [x for xs in await self.buckets.each(part) for x in xs]
        found.sort(key=lambda x: (as_utc(x[1]["finished_at"]), x[1]["_id"]))
        found = found[:limit]
        # deleting goes through the marks too: a job requeued meanwhile is not deleted
        won = await self._apply([(n, d, None) for n, d in found], finished_before)
        for (_, d), ok in zip(found, won, strict=True):
            if ok:
                self.buckets.forget(d["_id"])
        await asyncio.gather(*(cas.forget_before(finished_before) for cas in self.buckets.cas))
        return sum(won)

    async def stats(self) -> QueueStats:
        pipeline = [{"$group": {"_id": {"q": "$queue", "s": "$status"}, "n": {"$sum": 1}}}]

        async def part(_: int, coll: AsyncCollection[Doc]) -> list[Doc]:
            return [row async for row in await coll.aggregate(pipeline)]

        out = QueueStats()
        for rows in await self.buckets.each(part):
            for row in rows:
                queue, status = row["_id"]["q"], JobStatus(row["_id"]["s"])
                counts = out.counts.setdefault(queue, {})
                counts[status] = counts.get(status, 0) + int(row["n"])
        return out

    async def next_due(self, queues: Sequence[str]) -> datetime | None:
        qs = list(dict.fromkeys(queues))

        async def part(_: int, coll: AsyncCollection[Doc]) -> list[datetime]:
            times: list[datetime] = []
            for status, field in ((_PENDING, "due_at"), (_RUNNING, "lease_expires_at")):
                doc = await coll.find_one(
                    {"queue": {"$in": qs}, "status": status, field: {"$ne": None}},
                    {field: 1},
                    sort=[(field, 1)],
                )
                if doc is not None:
                    times.append(as_utc(doc[field]))
            return times

        return min((t for ts in await self.buckets.each(part) for t in ts), default=None)


def check_new_job(job: Job) -> None:
    if job.due_at is None:
        raise ConfigError(f"job {job.id} has no due_at")
    if job.status is not JobStatus.PENDING:
        raise InvalidState(f"job {job.id} must be added as pending, not {job.status}")


async def insert_jobs(buckets: Buckets, docs: Sequence[Doc]) -> dict[str, Doc]:
    """Insert idempotently, each in its bucket; returns each doc's ``ukey`` -> the document
    stored under it (ours, inserted now or by an earlier try, or the one holding that key)."""
    by: dict[int, list[Doc]] = {}
    for doc in docs:
        by.setdefault(buckets.of_ukey(doc["ukey"]), []).append(doc)
    out: dict[str, Doc] = {}
    for part in await asyncio.gather(*(_insert_into(buckets, n, ds) for n, ds in by.items())):
        out.update(part)
    return out


async def _insert_into(buckets: Buckets, n: int, docs: Sequence[Doc]) -> dict[str, Doc]:
    await buckets.ensure(n)
    jobs = buckets.jobs[n]
    out: dict[str, Doc] = {}
    todo = list(docs)
    for _ in range(3):  # a holder purged before we read it: insert again
        dup: set[int] = set()
        if todo:
            try:
                await jobs.insert_many(todo, ordered=False)
            except BulkWriteError as exc:
                dup = duplicate_indexes(exc)
        for k, doc in enumerate(todo):
            if k not in dup:
                out[doc["ukey"]] = doc
                buckets.remember(doc["_id"], n)
        if not dup:
            return out
        wanted = [todo[k]["ukey"] for k in sorted(dup)]
        async for existing in jobs.find({"ukey": {"$in": wanted}}, JOB_PROJECTION):
            out[existing["ukey"]] = existing
        for k in sorted(dup):
            doc = todo[k]
            if doc["ukey"] not in out:  # refused for its id, not its key: another job has it
                clash = await jobs.find_one({"_id": doc["_id"]}, {"_id": 1})
                if clash is not None:
                    raise InvalidState(f"a job with id {doc['_id']} already exists")
        todo = [d for d in todo if d["ukey"] not in out]
        if not todo:
            return out
    raise InvalidState("jobs kept vanishing while being deduplicated; try again")
