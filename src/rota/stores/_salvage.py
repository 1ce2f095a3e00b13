"""Reading stored jobs that an older version, a person or a fault wrote wrong.

A store never fails a claim or a listing because one stored job is unreadable. Each store
decodes its rows on a fast path and hands the result to ``checked``, which costs a few type
tests when the job is sound. When the fast path raises, the store calls ``salvage`` with the
raw values and a converter per field instead. Either way a field that cannot be used is
replaced by a safe stand-in and named in ``Job.defect``; the worker fails such a job without
running it, so one bad row costs one job, never the worker.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from rota._models import Job, JobStatus

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: The fields a store keeps (``defect`` is derived on reading, never stored).
STORED_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Job) if f.name != "defect")

#: Fields only shown to people (and tracing): one that cannot be read is left empty, and the
#: job still runs.
INFORMATIVE = frozenset({"headers", "progress", "progress_message", "progress_at"})
_SPARSE = {f.name: f.default for f in dataclasses.fields(Job) if f.metadata.get("sparse")}
_INTS = ("priority", "attempts", "max_attempts", "token")
_OPTIONAL_TIMES = ("created_at", "lease_expires_at", "started_at", "finished_at", "fire_time")
_OPTIONAL_TEXTS = ("lease_owner", "key", "schedule_id", "last_error")
# what a field that cannot be used becomes: the job can still be listed, and is never run
_STAND_INS: dict[str, Any] = {
    "task": "",
    "queue": "",
    "payload": b"null",
    "priority": 0,
    "status": JobStatus.FAILED,
    "due_at": EPOCH,
    "attempts": 0,
    "max_attempts": 1,
    "token": 0,
}


def _is_int(value: object) -> bool:
    return type(value) is int  # bool is not a count, nor a priority


def _is_time(value: object) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def job_defect(job: Job) -> str | None:
    """What makes ``job`` unfit to run (types and ranges of its fields), or None."""
    # every claimed job passes here: one expression of type tests, no loops or calls
    timeout, text, time = job.timeout, str, datetime
    if (
        type(job.priority) is int
        and type(job.attempts) is int
        and type(job.max_attempts) is int
        and type(job.token) is int
        and (
            timeout is None or ((type(timeout) is float or type(timeout) is int) and 0 <= timeout < math.inf)
        )
        and job.status.__class__ is JobStatus
        and type(job.payload) is bytes
        and type(job.task) is text
        and type(job.queue) is text
        and isinstance(job.due_at, time)
        and job.due_at.tzinfo is not None
        and (
            job.created_at is None or (isinstance(job.created_at, time) and job.created_at.tzinfo is not None)
        )
        and (
            job.lease_expires_at is None
            or (isinstance(job.lease_expires_at, time) and job.lease_expires_at.tzinfo is not None)
        )
        and (
            job.started_at is None or (isinstance(job.started_at, time) and job.started_at.tzinfo is not None)
        )
        and (
            job.finished_at is None
            or (isinstance(job.finished_at, time) and job.finished_at.tzinfo is not None)
        )
        and (job.fire_time is None or (isinstance(job.fire_time, time) and job.fire_time.tzinfo is not None))
        and (job.lease_owner is None or type(job.lease_owner) is text)
        and (job.key is None or type(job.key) is text)
        and (job.schedule_id is None or type(job.schedule_id) is text)
        and (job.last_error is None or type(job.last_error) is text)
        and (job.result is None or type(job.result) is bytes)
    ):
        return job.defect
    return "; ".join(_problems(job)) or job.defect


def _problems(job: Job) -> list[str]:
    out: list[str] = [job.defect] if job.defect else []
    for name in _INTS:
        if not _is_int(getattr(job, name)):
            out.append(f"{name} {_show(getattr(job, name))} is not an integer")
    timeout = job.timeout
    if timeout is not None and not (type(timeout) in (int, float) and 0 <= timeout < math.inf):
        out.append(f"timeout {_show(timeout)} is not a finite number of seconds (0 or more)")
    status: object = job.status  # the type says JobStatus; a stored row need not
    if not isinstance(status, JobStatus):
        out.append(f"status {_show(job.status)} is not a job status")
    for name in ("due_at", *_OPTIONAL_TIMES):
        value = getattr(job, name)
        if (value is not None or name == "due_at") and not _is_time(value):
            out.append(f"{name} {_show(value)} is not a time{_naive(value)}")
    for name in ("payload", "result"):
        value = getattr(job, name)
        if not (type(value) is bytes or (name == "result" and value is None)):
            out.append(f"{name} of type {type(value).__name__} is not bytes")
    for name in ("task", "queue", *_OPTIONAL_TEXTS):
        value = getattr(job, name)
        if not (type(value) is str or (name in _OPTIONAL_TEXTS and value is None)):
            out.append(f"{name} {_show(value)} is not text")
    return out


def checked(job: Job) -> Job:
    """``job`` itself when it is sound (the common, cheap case); otherwise a copy whose
    unusable fields hold stand-ins, with ``defect`` saying what was wrong."""
    defect = job_defect(job)
    if defect is None:
        return job
    fixed = job.replace(defect=defect)
    for name in _INTS:
        if not _is_int(getattr(fixed, name)):
            setattr(fixed, name, _STAND_INS[name])
    timeout = fixed.timeout
    if timeout is not None and not (type(timeout) in (int, float) and 0 <= timeout < math.inf):
        fixed.timeout = None
    status: object = fixed.status
    if not isinstance(status, JobStatus):
        fixed.status = JobStatus.FAILED
    if not _is_time(fixed.due_at):
        fixed.due_at = EPOCH
    for name in _OPTIONAL_TIMES:
        if getattr(fixed, name) is not None and not _is_time(getattr(fixed, name)):
            setattr(fixed, name, None)
    if type(fixed.payload) is not bytes:
        fixed.payload = _STAND_INS["payload"]
    if fixed.result is not None and type(fixed.result) is not bytes:
        fixed.result = None
    for name in ("task", "queue"):
        if type(getattr(fixed, name)) is not str:
            setattr(fixed, name, _STAND_INS[name])
    for name in _OPTIONAL_TEXTS:
        if getattr(fixed, name) is not None and type(getattr(fixed, name)) is not str:
            setattr(fixed, name, None)
    return fixed


def salvage(
    job_id: object,
    raw: Mapping[str, Any],
    convert: Mapping[str, Callable[[Any], Any]],
    sparse: Mapping[str, Any] = _SPARSE,
) -> Job:
    """A job built field by field from ``raw`` (stored values by field name), through
    ``convert`` (per field; absent: taken as it is). A value that cannot be converted becomes
    a stand-in and is named in ``defect``; then ``checked`` looks at what remains. A field
    named in ``sparse`` (default: the model's sparse fields) that is absent holds its default."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name in STORED_FIELDS:
        value = raw.get(name)
        if value is None and name in sparse:
            values[name] = sparse[name]  # left out: the default (see rota._models.SPARSE)
            continue
        conversion = convert.get(name)
        if conversion is not None:
            try:
                value = conversion(value)
            except Exception:
                if name not in INFORMATIVE:
                    problems.append(f"{name} {_show(value)} cannot be read")
                value = _STAND_INS.get(name)
        values[name] = value
    values["id"] = job_id if isinstance(job_id, str) else _text(job_id)
    values["defect"] = "; ".join(problems) or None
    return checked(Job(**values))


def _naive(value: object) -> str:
    """Why a datetime is not taken: no zone (PostgreSQL hands its infinities back that way)."""
    return " with a zone (an infinite or naive timestamp)" if isinstance(value, datetime) else ""


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _show(value: object) -> str:
    """A short, printable rendering of a stored value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
