"""The reads of MongoDB's jobs collection, which change nothing and so need no compare-and-set:
a job, a page of jobs, a job's attempts, the counts, the finished counts and the next due
time. ``MongoJobs`` maps their errors and hands them its collection (and, for the next due
time, its gate document)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection

from rota._models import Attempt, FinishedCount, Job, JobFilter, JobStatus, QueueStats
from rota.stores._gate import NEXT_DUE_SCAN, Pending, limited_next_due
from rota.stores.mongodb._claim import LIMITED, PENDING, RUNNING, UNLIMITED
from rota.stores.mongodb._codec import FINAL, JOB_PROJECTION, JOBS, Doc, as_utc, attempts_from_doc, job_ukey
from rota.stores.mongodb._gate import GateDoc

_LIMIT_FIELDS = ("concurrency_key", "concurrency_limit", "rate_key", "rate_limit", "rate_period")


async def get_job(jobs: AsyncCollection[Doc], job_id: str) -> Job | None:
    doc = await jobs.find_one({"_id": job_id}, JOB_PROJECTION)
    return JOBS.job_from_mapping(doc) if doc is not None else None


async def find_jobs(jobs: AsyncCollection[Doc], flt: JobFilter) -> list[Job]:
    query: Doc = {}
    for name in ("queue", "task", "schedule_id"):
        if getattr(flt, name) is not None:
            query[name] = getattr(flt, name)
    if flt.key is not None:  # the unique ukey index
        query["ukey"] = job_ukey(Job(id="", task="", key=flt.key))
    if flt.status is not None:
        query["status"] = flt.status.value
    ids: Doc = {}
    if flt.after_id is not None:
        ids["$gt"] = flt.after_id
    if flt.before_id is not None:
        ids["$lt"] = flt.before_id
    if ids:
        query["_id"] = ids
    order = -1 if flt.newest_first else 1
    cursor = jobs.find(query, JOB_PROJECTION).sort("_id", order).limit(flt.limit)
    return [JOBS.job_from_mapping(d) async for d in cursor]


async def job_attempts(jobs: AsyncCollection[Doc], job_id: str) -> list[Attempt]:
    doc = await jobs.find_one({"_id": job_id}, {"log": 1})
    return attempts_from_doc(job_id, doc) if doc is not None else []


async def queue_stats(jobs: AsyncCollection[Doc], now: datetime | None) -> QueueStats:
    pipeline = [{"$group": {"_id": {"q": "$queue", "s": "$status"}, "n": {"$sum": 1}}}]
    out = QueueStats()
    async for row in await jobs.aggregate(pipeline):
        queue, status = row["_id"]["q"], JobStatus(row["_id"]["s"])
        out.counts.setdefault(queue, {})[status] = int(row["n"])
    if now is not None:
        for queue, counts in out.counts.items():
            if counts.get(JobStatus.PENDING):
                # the "due" index (queue, status, due_at): a range of the delayed ones
                query = {"queue": queue, "status": PENDING, "due_at": {"$gt": now}}
                n = await jobs.count_documents(query)
                if n:
                    out.delayed[queue] = n
    return out


async def finished_counts(
    jobs: AsyncCollection[Doc], since: datetime, until: datetime, bucket: timedelta
) -> list[FinishedCount]:
    # the "finished" index (status, finished_at): one range per final status
    query = {"status": {"$in": FINAL}, "finished_at": {"$gte": since, "$lt": until}}
    counts: Counter[tuple[int, str, str]] = Counter()
    async for doc in jobs.find(query, {"_id": 0, "queue": 1, "status": 1, "finished_at": 1}):
        k = (as_utc(doc["finished_at"]) - since) // bucket
        counts[k, doc["queue"], doc["status"]] += 1
    return [
        FinishedCount(since + k * bucket, queue, JobStatus(status), n)
        for (k, queue, status), n in sorted(counts.items())
    ]


async def next_due(jobs: AsyncCollection[Doc], gatekeeper: GateDoc, queues: list[str]) -> datetime | None:
    times: list[datetime] = []
    for status, field, extra in ((PENDING, "due_at", UNLIMITED), (RUNNING, "lease_expires_at", {})):
        # dates only: a value of another type (a bad row) sorts before every date
        doc = await jobs.find_one(
            {**extra, "queue": {"$in": queues}, "status": status, field: {"$type": "date"}},
            {field: 1},
            sort=[(field, 1)],
        )
        if doc is not None:
            times.append(as_utc(doc[field]))
    fields = {"due_at": 1, **dict.fromkeys(_LIMIT_FIELDS, 1)}
    query = {**LIMITED, "queue": {"$in": queues}, "status": PENDING, "due_at": {"$type": "date"}}
    found = [d async for d in jobs.find(query, fields).sort("due_at", 1).limit(NEXT_DUE_SCAN + 1)]
    if found:
        keys = list(
            dict.fromkeys(d["concurrency_key"] for d in found if isinstance(d.get("concurrency_key"), str))
        )
        held = await asyncio.gather(*(_holders(jobs, k) for k in keys))
        holders = dict(zip(keys, held, strict=True))
        buckets = await gatekeeper.buckets()
        pending = [_pending(d) for d in found[:NEXT_DUE_SCAN]]
        limited = limited_next_due(pending, holders.__getitem__, buckets.get, cut=len(found) > NEXT_DUE_SCAN)
        if limited is not None:
            times.append(limited)
    return min(times, default=None)


async def _holders(jobs: AsyncCollection[Doc], key: str) -> tuple[int, datetime | None]:
    """Running jobs with this concurrency key (any lease), and their earliest lease expiry."""
    query = {"concurrency_key": key, "status": RUNNING}
    n = await jobs.count_documents(query)
    first = await jobs.find_one(
        {**query, "lease_expires_at": {"$type": "date"}}, sort=[("lease_expires_at", 1)]
    )
    return n, None if first is None else as_utc(first["lease_expires_at"])


def _pending(doc: Doc) -> Pending:
    """A pending limited job as ``limited_next_due`` reads it."""
    return (
        as_utc(doc["due_at"]), doc.get("concurrency_key"), doc.get("concurrency_limit"), doc.get("rate_key"),
        doc.get("rate_limit"), doc.get("rate_period"),
    )  # fmt: skip
