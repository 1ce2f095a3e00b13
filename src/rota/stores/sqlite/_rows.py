"""Conversions between rota records and SQLite rows.

Times are stored as integer microseconds since the Unix epoch, so comparisons in SQL are
integer comparisons and nothing is lost of the caller's datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rota._clock import utc
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
from rota.stores._salvage import STORED_FIELDS, checked, salvage

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_STATUS = {s.value: s for s in JobStatus}
_OUTCOME = {o.value: o for o in Outcome}

Row = Sequence[Any]


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are refused (ConfigError)."""
    if dt.tzinfo is None:
        utc(dt)  # raises ConfigError
    return (dt - EPOCH) // _US


def opt_us(dt: datetime | None) -> int | None:
    return None if dt is None else to_us(dt)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def opt_dt(us: int | None) -> datetime | None:
    return None if us is None else EPOCH + timedelta(microseconds=us)


def job_params(job: Job) -> tuple[Any, ...]:
    """The insert_job parameters of a job (column order of the jobs table)."""
    if job.due_at is None or job.created_at is None:
        from rota._errors import ConfigError

        raise ConfigError(f"job {job.id} must have due_at and created_at set before it is stored")
    return (
        job.id,
        job.task,
        job.queue,
        job.payload,
        job.priority,
        job.status.value,
        to_us(job.due_at),
        to_us(job.created_at),
        job.attempts,
        job.max_attempts,
        job.token,
        job.lease_owner,
        opt_us(job.lease_expires_at),
        opt_us(job.started_at),
        opt_us(job.finished_at),
        job.key,
        job.schedule_id,
        opt_us(job.fire_time),
        job.timeout,
        job.last_error,
        job.result,
    )


def job_from_row(r: Row) -> Job:
    """The job of a row; a row that cannot be fully read gives a job with ``defect`` set
    (see rota.stores._salvage), never an error."""
    # the hot path of every claim: positional timedelta and no helper calls
    td = timedelta
    lease, started, finished, fire, timeout = r[12], r[13], r[14], r[17], r[18]
    try:
        job = Job(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            _STATUS[r[5]],
            EPOCH + td(0, 0, r[6]),
            EPOCH + td(0, 0, r[7]),
            r[8],
            r[9],
            r[10],
            r[11],
            None if lease is None else EPOCH + td(0, 0, lease),
            None if started is None else EPOCH + td(0, 0, started),
            None if finished is None else EPOCH + td(0, 0, finished),
            r[15],
            r[16],
            None if fire is None else EPOCH + td(0, 0, fire),
            None if timeout is None else float(timeout),
            r[19],
            r[20],
        )
    except (TypeError, ValueError, KeyError, OverflowError):
        return salvage(r[0], dict(zip(STORED_FIELDS, r, strict=True)), _CONVERT)
    return checked(job)


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "status": _STATUS.__getitem__,
    "due_at": from_us,
    "created_at": opt_dt,
    "lease_expires_at": opt_dt,
    "started_at": opt_dt,
    "finished_at": opt_dt,
    "fire_time": opt_dt,
    "timeout": lambda v: None if v is None else float(v),
}


def attempt_from_row(r: Row) -> Attempt:
    return Attempt(
        job_id=r[0],
        number=r[1],
        worker=r[2],
        started_at=_time_or_epoch(r[3]),
        finished_at=_time_or_epoch(r[4]),
        outcome=_OUTCOME.get(r[5], Outcome.FAILED),
        error_type=r[6],
        error_message=r[7],
        traceback=r[8],
    )


def _time_or_epoch(us: Any) -> datetime:
    """An attempt's time; a value no version of rota writes reads as the epoch."""
    try:
        return from_us(us)
    except (TypeError, ValueError, OverflowError):
        return EPOCH


def schedule_params(s: Schedule, *, version: int, now: datetime) -> tuple[Any, ...]:
    """The insert_schedule parameters (column order of the schedules table)."""
    return (
        s.id,
        s.task,
        s.trigger,
        s.queue,
        s.payload,
        s.priority,
        s.misfire.value,
        s.misfire_grace,
        s.max_catchup,
        s.jitter,
        s.overlap.value,
        s.origin,
        opt_us(s.next_fire_at),
        opt_us(s.last_fire_at),
        s.last_job_id,
        s.run_count,
        s.fail_count,
        s.last_error,
        int(s.paused),
        version,
        s.lease_owner,
        opt_us(s.lease_expires_at),
        to_us(s.created_at or now),
        to_us(now),
    )


def schedule_from_row(r: Row) -> Schedule:
    return Schedule(
        id=r[0],
        task=r[1],
        trigger=r[2],
        queue=r[3],
        payload=r[4],
        priority=r[5],
        misfire=MisfirePolicy(r[6]),
        misfire_grace=float(r[7]),  # RETURNING may hand back 60 for a REAL 60.0
        max_catchup=r[8],
        jitter=float(r[9]),
        overlap=OverlapPolicy(r[10]),
        origin=r[11],
        next_fire_at=opt_dt(r[12]),
        last_fire_at=opt_dt(r[13]),
        last_job_id=r[14],
        run_count=r[15],
        fail_count=r[16],
        last_error=r[17],
        paused=bool(r[18]),
        version=r[19],
        lease_owner=r[20],
        lease_expires_at=opt_dt(r[21]),
        created_at=opt_dt(r[22]),
        updated_at=opt_dt(r[23]),
        lease_fence_name=r[24],
        lease_fence_token=r[25],
    )


def lease_from_row(r: Row) -> Lease:
    return Lease(name=r[0], owner=r[1], token=r[2], acquired_at=from_us(r[3]), expires_at=from_us(r[4]))
