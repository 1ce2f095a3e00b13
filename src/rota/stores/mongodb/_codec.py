"""MongoDB's leaves of the shared codec (rota.stores._codec), and the documents built on it.

Times are BSON dates (millisecond precision, which the store contract asks for; the driver
hands them back as aware datetimes, ``as_utc`` makes sure), bytes are BSON binary, enums
their text, JSON values (job headers, a worker's queues) BSON documents and arrays; the rest
is stored as it is. A record's id is its document's ``_id``.

A job's dedupe key is enforced by a unique index on ``ukey``: ``"key:" + key`` for a keyed
job, ``"id:" + id`` for the rest (every document has a distinct value, because FerretDB
ignores ``sparse`` and has no partial indexes: a unique index over an absent field would
allow one unkeyed job only). A job's attempt history is embedded in its document (``log``),
so recording an attempt and changing the job's state are one document write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rota._models import FINAL_STATUSES, Attempt, ErrorInfo, Job, Lease, Outcome, Schedule, WorkerInfo
from rota.stores._codec import Codec, Leaves, as_utc

Doc = dict[str, Any]

__all__ = [
    "ATTEMPTS",
    "JOBS",
    "JOB_PROJECTION",
    "LEASES",
    "SCHEDULES",
    "WORKERS",
    "Doc",
    "as_utc",
    "attempts_from_doc",
    "count_of",
    "definition_fields",
    "job_to_doc",
    "job_ukey",
    "logged",
    "schedule_to_doc",
]  # fmt: skip

LEAVES = Leaves(
    int=(None, int), float=(float, float), bool=(None, bool), bytes=(bytes, bytes), time=(None, as_utc)
)
JOBS = Codec(Job, LEAVES, {"id": "_id"})
ATTEMPTS = Codec(Attempt, LEAVES, {"number": "n"})
SCHEDULES = Codec(Schedule, LEAVES, {"id": "_id"})
LEASES = Codec(Lease, LEAVES, {"name": "_id"})
WORKERS = Codec(WorkerInfo, LEAVES, {"id": "_id"})

# what a job read leaves out: the history and the claim bookkeeping
JOB_PROJECTION: Mapping[str, int] = {"log": 0}
# a traceback longer than this keeps its tail: 16 MiB is the document limit for the whole history
MAX_TRACEBACK = 32 * 1024
#: the stored status of a job that ended (a list: queries take it as ``$in``)
FINAL = [s.value for s in FINAL_STATUSES]

# a log entry is an attempt without its job id (the document's)
_LOG_KEYS = ATTEMPTS.keys[1:]
_log_values = ATTEMPTS.row_encoder(ATTEMPTS.names[1:])


def job_ukey(job: Job) -> str:
    """The value the unique ``ukey`` index holds for this job: its dedupe key, or its id."""
    return f"key:{job.key}" if job.key is not None else f"id:{job.id}"


def job_to_doc(job: Job) -> Doc:
    # "inc" and "ver": the incarnation and version of the document (see _versioned.py);
    # "lim": only on jobs with limits, which the "limited" index finds
    doc = {**JOBS.to_mapping(job), "ukey": job_ukey(job), "log": [], "inc": job.id, "ver": 1}
    if job.limited:
        doc["lim"] = True
    return doc


def count_of(value: object, default: int = 0) -> int:
    """A stored count (attempts, token) as the store's own arithmetic uses it; a value no
    version of rota writes counts as ``default``, so one bad document cannot fail a claim."""
    return value if type(value) is int else default


def logged(
    doc: Mapping[str, Any],
    outcome: Outcome,
    now: datetime,
    *,
    worker: str | None = None,
    error: ErrorInfo | None = None,
) -> list[Doc]:
    """The job document's log with the attempt of the claim it holds appended, ended ``now``
    (number: the claim's token; worker: its lease owner unless given)."""
    traceback = error.traceback if error is not None else None
    if traceback is not None and len(traceback) > MAX_TRACEBACK:
        traceback = "...\n" + traceback[-MAX_TRACEBACK:]
    attempt = Attempt(
        "", doc["token"], worker if worker is not None else doc.get("lease_owner") or "",
        doc.get("started_at") or now, now, outcome, error.type if error is not None else None,
        error.message if error is not None else None, traceback,
    )  # fmt: skip
    return [*doc.get("log", []), dict(zip(_LOG_KEYS, _log_values(attempt), strict=True))]


def attempts_from_doc(job_id: str, doc: Mapping[str, Any]) -> list[Attempt]:
    log = doc.get("log") or ()
    out = [ATTEMPTS.attempt_from_row([job_id, *(entry.get(k) for k in _LOG_KEYS)]) for entry in log]
    out.sort(key=lambda a: a.number)
    return out


def schedule_to_doc(s: Schedule) -> Doc:
    # "outbox_id", "outbox": the jobs of a fire commit in flight (see _schedules.py)
    return {**SCHEDULES.to_mapping(s), "outbox_id": None, "outbox": []}


def definition_fields(s: Schedule) -> Doc:
    doc = schedule_to_doc(s)
    return {f: doc[f] for f in Schedule.DEFINITION_FIELDS}
