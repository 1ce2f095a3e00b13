"""The argument checks ``Store`` makes before any backend runs (see base.py, "Invalid
arguments"). They sit on every call's path, so each is a few type tests and comparisons."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta

from rota._errors import ConfigError, InvalidState
from rota._limits_spec import check_job_limits
from rota._models import Job, JobStatus, Progress, WorkerInfo, check_headers

_ZERO = timedelta(0)


def aware(value: datetime, what: str) -> datetime:
    """``value`` when it is a timezone-aware datetime; ConfigError otherwise."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ConfigError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value


def expiry(now: datetime, length: timedelta, what: str) -> datetime:
    """``now + length`` for a positive ``length``; ConfigError otherwise."""
    aware(now, "now")
    if not isinstance(length, timedelta) or length <= _ZERO:
        raise ConfigError(f"{what} must be a positive timedelta, got {length!r}")
    try:
        return now + length
    except OverflowError:
        raise ConfigError(f"{what} {length} reaches past the last representable time") from None


def count(value: int, what: str) -> int:
    """``value`` when it is an int of 0 or more (0 asks for nothing); ConfigError otherwise."""
    if type(value) is not int or value < 0:
        raise ConfigError(f"{what} must be a whole number of 0 or more, got {value!r}")
    return value


def name(value: str, what: str) -> str:
    """``value`` when it is a non-empty string; ConfigError otherwise."""
    if type(value) is not str or not value:
        raise ConfigError(f"{what} must be a non-empty string, got {value!r}")
    return value


def queue_names(queues: Iterable[str]) -> list[str]:
    """The queue names, each once, in order (possibly none); ConfigError for a name that is
    not a non-empty string."""
    names = list(dict.fromkeys(queues))
    for queue in names:
        if type(queue) is not str or not queue:
            raise ConfigError(f"a queue name must be a non-empty string, got {queue!r}")
    return names


def new_jobs(jobs: Sequence[Job], now: datetime) -> Sequence[Job]:
    """Jobs fit to be added: pending, with due_at set, ids distinct within the call and
    limit fields that go together and are in range (ConfigError, InvalidState otherwise:
    nothing is written). A job without created_at gets ``now`` (a copy; the others are
    returned as they are)."""
    seen: set[str] = set()
    undated = False
    for job in jobs:
        if job.due_at is None:
            raise ConfigError(f"job {job.id} has no due_at; stores take fully built jobs")
        if job.status is not JobStatus.PENDING:
            raise InvalidState(f"job {job.id} must be added as pending, not {job.status}")
        if job.id in seen:
            raise InvalidState(f"job id {job.id} appears twice in one call")
        seen.add(job.id)
        if job.headers is not None:
            check_headers(job.headers)
        undated = undated or job.created_at is None
        if (
            job.limited
            or job.concurrency_limit is not None
            or job.rate_limit is not None
            or (job.rate_period is not None)
        ):
            wrong = check_job_limits(
                job.concurrency_key, job.concurrency_limit, job.rate_key, job.rate_limit, job.rate_period
            )
            if wrong is not None:
                raise ConfigError(f"job {job.id}: {wrong}")
    if undated:
        return [job if job.created_at is not None else job.replace(created_at=now) for job in jobs]
    return jobs


def final_statuses(statuses: Collection[JobStatus] | None) -> list[str]:
    """The status values a ``purge`` may delete: the final ones, narrowed to ``statuses``."""
    final = ("cancelled", "failed", "succeeded")
    if statuses is None:
        return list(final)
    try:
        wanted = {JobStatus(s).value for s in statuses}
    except (ValueError, TypeError):
        raise ConfigError(f"statuses must be job statuses, got {statuses!r}") from None
    return [s for s in final if s in wanted]


def progress(value: Progress) -> Progress:
    """``value`` when it is a ``Progress`` (which checks its own range); ConfigError otherwise."""
    if type(value) is not Progress:
        raise ConfigError(f"progress must be a rota Progress, got {type(value).__name__}")
    return value


def worker_info(info: WorkerInfo) -> WorkerInfo:
    """``info`` when every field is of its type and in range; ConfigError otherwise."""
    if type(info) is not WorkerInfo:
        raise ConfigError(f"a worker registration must be a WorkerInfo, got {type(info).__name__}")
    for field_name in ("id", "host", "version"):
        name(getattr(info, field_name), f"worker {field_name}")
    for field_name in ("pid", "concurrency", "running"):
        count(getattr(info, field_name), f"worker {field_name}")
    if type(info.queues) is not tuple:
        raise ConfigError(f"worker queues must be a tuple of names, got {type(info.queues).__name__}")
    queue_names(info.queues)
    aware(info.started_at, "worker started_at")
    return info


_MS = timedelta(milliseconds=1)


def buckets(
    since: datetime, until: datetime, bucket: timedelta, most: int
) -> tuple[datetime, datetime, timedelta]:
    """``since`` and ``until`` truncated to the millisecond, and ``bucket`` when it is a
    positive whole number of milliseconds making at most ``most`` buckets between them;
    ConfigError otherwise."""
    aware(since, "since")
    aware(until, "until")
    if not isinstance(bucket, timedelta) or bucket <= _ZERO or bucket % _MS:
        raise ConfigError(f"bucket must be a positive whole number of milliseconds, got {bucket!r}")
    start = since - timedelta(microseconds=since.microsecond % 1000)
    end = until - timedelta(microseconds=until.microsecond % 1000)
    if end > start and (end - start) / bucket > most:
        raise ConfigError(f"{end - start} in buckets of {bucket} makes more than {most} buckets")
    return start, end, bucket
