"""Jobs, attempts, schedules and leases as MongoDB documents, and back.

Times are BSON dates (millisecond precision, which the store contract asks for). A job's
``_id`` is its id. Its dedupe key is enforced by a unique index on ``ukey``: ``"key:" + key``
for a keyed job, ``"id:" + id`` for the rest (every document has a distinct value, because
FerretDB ignores ``sparse`` and has no partial indexes: a unique index over an absent field
would allow one unkeyed job only). A job's attempt history is embedded in its document
(``log``), so recording an attempt and changing the job's state are one document write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from rota._models import (
    Attempt,
    ErrorInfo,
    Job,
    JobStatus,
    Lease,
    MisfirePolicy,
    Outcome,
    OverlapPolicy,
    Schedule,
)
from rota.stores._salvage import STORED_FIELDS, checked, salvage

Doc = dict[str, Any]

# what a job read leaves out: the history and the claim bookkeeping
JOB_PROJECTION: Mapping[str, int] = {"log": 0}
# a traceback longer than this keeps its tail: 16 MiB is the document limit for the whole history
MAX_TRACEBACK = 32 * 1024


def job_ukey(job: Job) -> str:
    """The value the unique ``ukey`` index holds for this job: its dedupe key, or its id."""
    return f"key:{job.key}" if job.key is not None else f"id:{job.id}"


def job_to_doc(job: Job, *, created_at: datetime) -> Doc:
    return {
        "_id": job.id,
        "ukey": job_ukey(job),
        "task": job.task,
        "queue": job.queue,
        "payload": bytes(job.payload),
        "priority": job.priority,
        "status": job.status.value,
        "due_at": job.due_at,
        "created_at": created_at,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "token": job.token,
        "lease_owner": job.lease_owner,
        "lease_expires_at": job.lease_expires_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "key": job.key,
        "schedule_id": job.schedule_id,
        "fire_time": job.fire_time,
        "timeout": job.timeout,
        "last_error": job.last_error,
        "result": None if job.result is None else bytes(job.result),
        "log": [],
        "inc": job.id,  # see _versioned: the incarnation and version of the document
        "ver": 1,
    }


def job_from_doc(doc: Mapping[str, Any]) -> Job:
    """The job of a document; one that cannot be fully read gives a job with ``defect`` set
    (see rota.stores._salvage), never an error."""
    try:
        job = _job_from_doc(doc)
    except (KeyError, ValueError, TypeError, OverflowError):
        return salvage(doc.get("_id"), {f: doc.get(f) for f in STORED_FIELDS}, _JOB_CONVERT)
    return checked(job)


def count_of(value: object, default: int = 0) -> int:
    """A stored count (attempts, token) as the store's own arithmetic uses it; a value no
    version of rota writes counts as ``default``, so one bad document cannot fail a claim."""
    return value if type(value) is int else default


def _job_from_doc(doc: Mapping[str, Any]) -> Job:
    return Job(
        id=doc["_id"],
        task=doc["task"],
        queue=doc["queue"],
        payload=bytes(doc["payload"]),
        priority=int(doc["priority"]),
        status=JobStatus(doc["status"]),
        due_at=_utc(doc.get("due_at")),
        created_at=_utc(doc.get("created_at")),
        attempts=int(doc["attempts"]),
        max_attempts=int(doc["max_attempts"]),
        token=int(doc["token"]),
        lease_owner=doc.get("lease_owner"),
        lease_expires_at=_utc(doc.get("lease_expires_at")),
        started_at=_utc(doc.get("started_at")),
        finished_at=_utc(doc.get("finished_at")),
        key=doc.get("key"),
        schedule_id=doc.get("schedule_id"),
        fire_time=_utc(doc.get("fire_time")),
        timeout=None if doc.get("timeout") is None else float(doc["timeout"]),
        last_error=doc.get("last_error"),
        result=None if doc.get("result") is None else bytes(doc["result"]),
    )


def attempt_doc(
    *,
    number: int,
    worker: str,
    started_at: datetime,
    finished_at: datetime,
    outcome: Outcome,
    error: ErrorInfo | None = None,
) -> Doc:
    traceback = error.traceback if error is not None else None
    if traceback is not None and len(traceback) > MAX_TRACEBACK:
        traceback = "...\n" + traceback[-MAX_TRACEBACK:]
    return {
        "n": number,
        "worker": worker,
        "started_at": started_at,
        "finished_at": finished_at,
        "outcome": outcome.value,
        "error_type": error.type if error is not None else None,
        "error_message": error.message if error is not None else None,
        "traceback": traceback,
    }


def attempts_from_doc(job_id: str, doc: Mapping[str, Any]) -> list[Attempt]:
    out = [
        Attempt(
            job_id=job_id,
            number=int(a["n"]),
            worker=a["worker"],
            started_at=as_utc(a["started_at"]),
            finished_at=as_utc(a["finished_at"]),
            outcome=_OUTCOMES.get(a["outcome"], Outcome.FAILED),
            error_type=a.get("error_type"),
            error_message=a.get("error_message"),
            traceback=a.get("traceback"),
        )
        for a in doc.get("log") or ()
    ]
    out.sort(key=lambda a: a.number)
    return out


_OUTCOMES = {o.value: o for o in Outcome}


def schedule_to_doc(s: Schedule) -> Doc:
    return {
        "_id": s.id,
        "task": s.task,
        "trigger": s.trigger,
        "queue": s.queue,
        "payload": bytes(s.payload),
        "priority": s.priority,
        "misfire": s.misfire.value,
        "misfire_grace": float(s.misfire_grace),
        "max_catchup": s.max_catchup,
        "jitter": float(s.jitter),
        "overlap": s.overlap.value,
        "origin": s.origin,
        "next_fire_at": s.next_fire_at,
        "last_fire_at": s.last_fire_at,
        "last_job_id": s.last_job_id,
        "run_count": s.run_count,
        "fail_count": s.fail_count,
        "last_error": s.last_error,
        "paused": s.paused,
        "version": s.version,
        "lease_owner": s.lease_owner,
        "lease_expires_at": s.lease_expires_at,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "lease_fence_name": s.lease_fence_name,
        "lease_fence_token": s.lease_fence_token,
        "outbox_id": None,
        "outbox": [],
    }


def definition_fields(s: Schedule) -> Doc:
    doc = schedule_to_doc(s)
    return {f: doc[f] for f in Schedule.DEFINITION_FIELDS}


def schedule_from_doc(doc: Mapping[str, Any]) -> Schedule:
    return Schedule(
        id=doc["_id"],
        task=doc["task"],
        trigger=doc["trigger"],
        queue=doc["queue"],
        payload=bytes(doc["payload"]),
        priority=int(doc["priority"]),
        misfire=MisfirePolicy(doc["misfire"]),
        misfire_grace=float(doc["misfire_grace"]),
        max_catchup=int(doc["max_catchup"]),
        jitter=float(doc["jitter"]),
        overlap=OverlapPolicy(doc["overlap"]),
        origin=doc["origin"],
        next_fire_at=_utc(doc.get("next_fire_at")),
        last_fire_at=_utc(doc.get("last_fire_at")),
        last_job_id=doc.get("last_job_id"),
        run_count=int(doc["run_count"]),
        fail_count=int(doc["fail_count"]),
        last_error=doc.get("last_error"),
        paused=bool(doc["paused"]),
        version=int(doc["version"]),
        lease_owner=doc.get("lease_owner"),
        lease_expires_at=_utc(doc.get("lease_expires_at")),
        created_at=_utc(doc.get("created_at")),
        updated_at=_utc(doc.get("updated_at")),
        lease_fence_name=doc.get("lease_fence_name"),
        lease_fence_token=_opt_int(doc.get("lease_fence_token")),
    )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def lease_from_doc(doc: Mapping[str, Any]) -> Lease:
    return Lease(
        name=doc["_id"],
        owner=doc["owner"],
        token=int(doc["token"]),
        acquired_at=as_utc(doc["acquired_at"]),
        expires_at=as_utc(doc["expires_at"]),
    )


def ms(dt: datetime) -> datetime:
    """``dt`` cut to the millisecond, as a BSON date stores it."""
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def _utc(value: object) -> datetime | None:
    if value is None:
        return None
    return as_utc(value)


def as_utc(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a date in the store, found {type(value).__name__}")
    if value.tzinfo is None:  # a client built without tz_aware: BSON dates are UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)


_JOB_CONVERT: dict[str, Callable[[Any], Any]] = {
    "payload": bytes,
    "priority": int,
    "status": JobStatus,
    "due_at": as_utc,
    "attempts": int,
    "max_attempts": int,
    "token": int,
    "timeout": _optional(float),
    "result": _optional(bytes),
    **{
        name: _optional(as_utc)
        for name in ("created_at", "lease_expires_at", "started_at", "finished_at", "fire_time")
    },
}
