"""The decisions of a claim on MongoDB, apart from its reads and writes (``MongoJobs.claim``
makes those): a document's place in claim order, the content a claimed (or, after its last
lost lease, failed) job gets, and which candidates a claim of jobs with limits takes."""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING

from rota._models import JobStatus, Outcome
from rota.stores._gate import Gate
from rota.stores._salvage import EPOCH as _EPOCH
from rota.stores.mongodb._codec import Doc, as_utc, count_of, logged

CLAIM_ORDER = [("priority", DESCENDING), ("due_at", ASCENDING), ("_id", ASCENDING)]
LEASE_LOST_ERROR = "LeaseLost: the worker stopped heartbeating"
PENDING, RUNNING = JobStatus.PENDING.value, JobStatus.RUNNING.value
NO_LEASE = {"lease_owner": None, "lease_expires_at": None}
#: jobs with limits carry ``lim: true`` (a claim takes them only through the gate); the others
#: have no such field
LIMITED = {"lim": True}
UNLIMITED = {"lim": {"$exists": False}}
_NO_PROGRESS = {"progress": None, "progress_message": None, "progress_at": None}


def claim_order(doc: Doc) -> tuple[Any, ...]:
    """A document's place in claim order (priority desc, due_at, id); a value no version of
    rota writes sorts as 0."""
    priority = doc.get("priority")
    due = doc.get("due_at")
    return (
        -(priority if type(priority) is int else 0),
        as_utc(due) if isinstance(due, datetime) else _EPOCH,
        doc["_id"],
    )


def claimed_doc(doc: Doc, worker: str, until: datetime, now: datetime) -> Doc:
    """``doc`` claimed by ``worker`` until ``until``, its expired lease (if any) recorded as
    a lost attempt; or failed, when that lost attempt was its last."""
    new = dict(doc)
    if doc["status"] == RUNNING:  # its worker vanished: record the lost attempt first
        new["log"] = logged(doc, Outcome.LEASE_LOST, now)
        if count_of(doc.get("attempts")) >= count_of(doc.get("max_attempts"), 1):
            new.update(NO_LEASE, status=JobStatus.FAILED.value, finished_at=now, last_error=LEASE_LOST_ERROR)
            return new
    new.update(
        _NO_PROGRESS,
        status=RUNNING,
        lease_owner=worker,
        lease_expires_at=until,
        started_at=now,
        token=count_of(doc.get("token")) + 1,
        attempts=count_of(doc.get("attempts")) + 1,
    )
    return new


def choose(
    docs: list[Doc],
    others: list[Doc],
    gate: Gate,
    *,
    want: int,
    worker: str,
    until: datetime,
    now: datetime,
) -> tuple[list[tuple[Doc, Doc]], int]:
    """The changes of a claim of up to ``want`` jobs from ``docs`` (limited) and
    ``others`` (not), merged in claim order; and how many limited jobs were held back."""
    changes: list[tuple[Doc, Doc]] = []
    passed = taking = 0
    for doc in heapq.merge(docs, others, key=claim_order):
        if taking >= want:
            break
        new = claimed_doc(doc, worker, until, now)
        if new["status"] != RUNNING:  # its lost attempt was its last: failed
            changes.append((doc, new))
            continue
        if doc.get("lim") and not gate.admit_limits(
            doc.get("concurrency_key"), doc.get("concurrency_limit"), doc.get("rate_key"),
            doc.get("rate_limit"), doc.get("rate_period"),
        ):  # fmt: skip
            if doc["status"] == RUNNING:  # expired, held back: pending again after its lost attempt
                changes.append((doc, {**doc, **NO_LEASE, "status": PENDING, "log": new["log"]}))
            else:
                passed += 1
            continue
        changes.append((doc, new))
        taking += 1
    return changes, passed
