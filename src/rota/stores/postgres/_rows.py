"""Rows to records and records to the column arrays the bulk statements unnest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from rota._models import (
    Attempt,
    Job,
    JobStatus,
    Lease,
    MisfirePolicy,
    Outcome,
    OverlapPolicy,
    Schedule,
)
from rota.stores._salvage import STORED_FIELDS, checked

Row = Mapping[str, Any]
_STATUS = {s.value: s for s in JobStatus}
_OUTCOME = {o.value: o for o in Outcome}


_JOB_COLUMNS = len(STORED_FIELDS)


def job_from_table_row(r: asyncpg.Record) -> Job:
    """A row that is exactly ``jobs.*`` (the claim's hot path): the table's first columns are
    Job's stored fields in order (migrations only append columns; a test checks), so
    positional construction skips 21 lookups by name. The column types hold every value in
    a type the job takes; values no run can use (a NaN timeout, an infinite time) give a job
    with ``defect`` set (see rota.stores._salvage)."""
    job = Job(*r[:_JOB_COLUMNS])
    job.status = _STATUS[job.status]  # the column holds the text value (checked by the schema)
    return checked(job)


def job_from_row(r: Row) -> Job:
    return checked(
        Job(
            id=r["id"],
            task=r["task"],
            queue=r["queue"],
            payload=r["payload"],
            priority=r["priority"],
            status=_STATUS[r["status"]],
            due_at=r["due_at"],
            created_at=r["created_at"],
            attempts=r["attempts"],
            max_attempts=r["max_attempts"],
            token=r["token"],
            lease_owner=r["lease_owner"],
            lease_expires_at=r["lease_expires_at"],
            started_at=r["started_at"],
            finished_at=r["finished_at"],
            key=r["key"],
            schedule_id=r["schedule_id"],
            fire_time=r["fire_time"],
            timeout=r["timeout"],
            last_error=r["last_error"],
            result=r["result"],
        )
    )


def attempt_from_row(r: Row) -> Attempt:
    return Attempt(
        job_id=r["job_id"],
        number=r["number"],
        worker=r["worker"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        outcome=_OUTCOME.get(r["outcome"], Outcome.FAILED),
        error_type=r["error_type"],
        error_message=r["error_message"],
        traceback=r["traceback"],
    )


def schedule_from_row(r: Row) -> Schedule:
    return Schedule(
        id=r["id"],
        task=r["task"],
        trigger=r["trigger"],
        queue=r["queue"],
        payload=r["payload"],
        priority=r["priority"],
        misfire=MisfirePolicy(r["misfire"]),
        misfire_grace=r["misfire_grace"],
        max_catchup=r["max_catchup"],
        jitter=r["jitter"],
        overlap=OverlapPolicy(r["overlap"]),
        origin=r["origin"],
        next_fire_at=r["next_fire_at"],
        last_fire_at=r["last_fire_at"],
        last_job_id=r["last_job_id"],
        run_count=r["run_count"],
        fail_count=r["fail_count"],
        last_error=r["last_error"],
        paused=r["paused"],
        version=r["version"],
        lease_owner=r["lease_owner"],
        lease_expires_at=r["lease_expires_at"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        lease_fence_name=r["lease_fence_name"],
        lease_fence_token=r["lease_fence_token"],
    )


def lease_from_row(r: Row) -> Lease:
    return Lease(
        name=r["name"],
        owner=r["owner"],
        token=r["token"],
        acquired_at=r["acquired_at"],
        expires_at=r["expires_at"],
    )


def job_arrays(jobs: Sequence[Job], now: datetime) -> list[list[Any] | None]:
    """The 12 column arrays of add_jobs, in parameter order (NULL for an all-NULL column:
    unnest pads it)."""
    return [
        [j.id for j in jobs],
        [j.task for j in jobs],
        [j.queue for j in jobs],
        [j.payload for j in jobs],
        [j.priority for j in jobs],
        [j.due_at for j in jobs],
        [j.created_at or now for j in jobs],
        [j.max_attempts for j in jobs],
        nullable([j.key for j in jobs]),
        nullable([j.schedule_id for j in jobs]),
        nullable([j.fire_time for j in jobs]),
        nullable([j.timeout for j in jobs]),
    ]


def nullable(values: list[Any]) -> list[Any] | None:
    """A column array, or NULL when every value is NULL: unnest pads a NULL array with NULLs,
    and the driver then encodes (and type-checks) nothing for it."""
    return values if any(v is not None for v in values) else None


def as_stored(job: Job, now: datetime) -> Job:
    """What add_jobs writes for a new job (it does not trust the run-state fields)."""
    return job.replace(
        status=JobStatus.PENDING,
        created_at=job.created_at or now,
        attempts=0,
        token=0,
        lease_owner=None,
        lease_expires_at=None,
        started_at=None,
        finished_at=None,
        last_error=None,
        result=None,
    )
