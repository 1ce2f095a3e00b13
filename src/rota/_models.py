"""The records every store keeps: jobs, attempts, schedules and named leases.

Times are timezone-aware UTC datetimes. Stores keep at least millisecond precision
(leases are compared at millisecond precision; stores may truncate below that).
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from rota._errors import ConfigError

#: The most entries ``Job.headers`` may hold, and the most characters of text (names and
#: values together) in them: trace context is two short headers; the bound keeps a job row
#: small whatever a caller puts there.
MAX_HEADERS = 16
MAX_HEADERS_TEXT = 4096
#: The longest progress message kept (``Progress.message``).
MAX_PROGRESS_MESSAGE = 1000


class JobStatus(StrEnum):
    PENDING = "pending"  # waiting for its due time or a free worker
    RUNNING = "running"  # claimed: a worker holds its lease
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # dead: the last attempt failed
    CANCELLED = "cancelled"


FINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class Outcome(StrEnum):
    """How one attempt ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    LEASE_LOST = "lease_lost"  # the worker vanished or stopped heartbeating; written by the next claim
    CANCELLED = "cancelled"
    RELEASED = "released"  # given back unfinished (shutdown, busy lock); not counted in attempts


@dataclass(slots=True)
class Job:
    """One unit of work.

    ``token`` is the fencing token: it increases by one on every claim, so it also numbers
    the attempts over the job's whole life. ``attempts`` counts attempts spent against
    ``max_attempts`` (claims count, so a job that keeps killing its worker still dies);
    ``requeue`` resets it.

    ``headers`` is metadata that travels with the job (the W3C ``traceparent`` and
    ``tracestate`` of the span that enqueued it, when tracing is on); at most
    ``MAX_HEADERS`` entries of text. ``progress`` (a fraction from 0 to 1),
    ``progress_message`` and ``progress_at`` are what the running attempt last reported
    (``JobContext.progress``); a claim clears them, so they always belong to the current
    or the last attempt.
    The limits of its task travel with the job (see ``Store.claim``): with
    ``concurrency_key`` (and ``concurrency_limit``) the job is claimed only while fewer than
    that many jobs with the key run; with ``rate_key`` (and ``rate_limit`` per
    ``rate_period`` seconds) only when the key's token bucket has a token. None: no such limit.

    ``defect`` is never stored: a store sets it when the stored record could not be fully
    decoded (written by an older version, by hand, or corrupted). The fields it names hold
    safe stand-ins, so the job can still be listed; a worker that claims it fails it without
    running it, with the defect as its error.
    """

    id: str
    task: str
    queue: str = "default"
    payload: bytes = b"null"
    priority: int = 0  # higher runs first
    status: JobStatus = JobStatus.PENDING
    due_at: datetime | None = None  # None only before the App fills it in
    created_at: datetime | None = None
    attempts: int = 0
    max_attempts: int = 1
    token: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    started_at: datetime | None = None  # start of the current or last attempt
    finished_at: datetime | None = None
    key: str | None = None  # dedupe key, unique among retained jobs
    schedule_id: str | None = None
    fire_time: datetime | None = None
    timeout: float | None = None  # seconds
    last_error: str | None = None
    result: bytes | None = None
    headers: dict[str, str] | None = None
    progress: float | None = None
    progress_message: str | None = None
    progress_at: datetime | None = None
    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    rate_key: str | None = None
    rate_limit: int | None = None
    rate_period: float | None = None  # seconds
    defect: str | None = field(default=None, compare=False)

    @property
    def limited(self) -> bool:
        """Whether a rate or concurrency limit holds this job's claims."""
        return self.concurrency_key is not None or self.rate_key is not None

    def replace(self, **changes: object) -> Job:
        """A copy with ``changes`` applied (stores copy jobs on every read and write, so this
        is on the hot path: positional construction is several times faster than
        ``dataclasses.replace``)."""
        new = Job(*_job_values(self))
        for name, value in changes.items():
            setattr(new, name, value)
        return new


_job_values = operator.attrgetter(*(f.name for f in dataclasses.fields(Job)))


@dataclass(slots=True, frozen=True)
class Attempt:
    """The history record of one attempt; ``number`` is the job's token for that claim."""

    job_id: str
    number: int
    worker: str
    started_at: datetime
    finished_at: datetime
    outcome: Outcome
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None


@dataclass(slots=True, frozen=True)
class ErrorInfo:
    type: str
    message: str
    traceback: str | None = None

    def summary(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(slots=True, frozen=True)
class LeaseRef:
    """Identifies one claim of one job: writes made on its behalf carry this token."""

    job_id: str
    token: int


@dataclass(slots=True, frozen=True)
class Fence:
    """A named lease (leader or lock) that a write must still hold to take effect."""

    name: str
    owner: str
    token: int


@dataclass(slots=True, frozen=True)
class Progress:
    """How far a running attempt is: ``fraction`` from 0 to 1 and an optional message of at
    most ``MAX_PROGRESS_MESSAGE`` characters (``ConfigError`` otherwise, when built)."""

    fraction: float
    message: str | None = None

    def __post_init__(self) -> None:
        fraction = self.fraction
        if type(fraction) is int:
            object.__setattr__(self, "fraction", fraction := float(fraction))
        if type(fraction) is not float or not (0.0 <= fraction <= 1.0):  # NaN fails too
            raise ConfigError(f"progress must be a number from 0 to 1, got {fraction!r}")
        message = self.message
        if message is not None:
            if type(message) is not str:
                raise ConfigError(f"a progress message must be text, got {type(message).__name__}")
            if len(message) > MAX_PROGRESS_MESSAGE or "\x00" in message:
                raise ConfigError(
                    f"a progress message must be at most {MAX_PROGRESS_MESSAGE} characters without NUL"
                )


@dataclass(slots=True, frozen=True)
class Finish:
    """The outcome of one attempt, handed to ``Store.finish``.

    ``retry_at`` set: the job goes back to ``pending`` due at that time. Otherwise the job
    ends: ``succeeded`` for SUCCEEDED, ``cancelled`` for CANCELLED, ``failed`` for the rest.
    ``progress``: the attempt's last progress, written with the outcome (as
    ``Store.set_progress`` would) when the worker had not stored it yet.
    """

    job_id: str
    token: int
    outcome: Outcome
    retry_at: datetime | None = None
    error: ErrorInfo | None = None
    result: bytes | None = None
    fence: Fence | None = None
    progress: Progress | None = None

    @property
    def final_status(self) -> JobStatus:
        if self.retry_at is not None:
            return JobStatus.PENDING
        if self.outcome is Outcome.SUCCEEDED:
            return JobStatus.SUCCEEDED
        if self.outcome is Outcome.CANCELLED:
            return JobStatus.CANCELLED
        return JobStatus.FAILED


@dataclass(slots=True, frozen=True)
class AddResult:
    job: Job  # the stored job: the new one, or the existing one for a duplicate key
    created: bool


class MisfirePolicy(StrEnum):
    SKIP = "skip"  # fires missed by more than the grace time are dropped
    RUN_ONCE = "run_once"  # all missed fires coalesce into one
    RUN_ALL = "run_all"  # every missed fire runs, up to ``max_catchup``


class OverlapPolicy(StrEnum):
    ALLOW = "allow"
    SKIP = "skip"  # no fire while the previous fire's job is pending or running


@dataclass(slots=True)
class Schedule:
    """A recurring (or one-time) source of jobs.

    Definition fields come from the user; state fields are kept by the scheduler.
    ``trigger`` is the trigger's serialized form (see ``rota.triggers``), opaque to stores.
    ``version`` increases on every write, so a commit made from a stale read fails.
    """

    id: str
    task: str
    trigger: str
    queue: str = "default"
    payload: bytes = b"null"
    priority: int = 0
    misfire: MisfirePolicy = MisfirePolicy.RUN_ONCE
    misfire_grace: float = 60.0  # seconds a fire may be late and still count as on time
    max_catchup: int = 100  # bound for RUN_ALL
    jitter: float = 0.0  # seconds; each fire's job is due up to this much later
    overlap: OverlapPolicy = OverlapPolicy.ALLOW
    origin: str = "api"  # "code" for schedules declared with @app.cron / app.every
    # state
    next_fire_at: datetime | None = None  # None: the trigger will never fire again
    last_fire_at: datetime | None = None
    last_job_id: str | None = None
    run_count: int = 0
    fail_count: int = 0
    last_error: str | None = None
    paused: bool = False
    version: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # the leader term a fenced acquire leased it under (its named lease and token), so that a
    # later term can take it over at once instead of waiting for the lease to expire
    lease_fence_name: str | None = None
    lease_fence_token: int | None = None

    DEFINITION_FIELDS = (
        "task", "trigger", "queue", "payload", "priority", "misfire", "misfire_grace",
        "max_catchup", "jitter", "overlap", "origin",
    )  # fmt: skip

    def replace(self, **changes: object) -> Schedule:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def same_definition(self, other: Schedule) -> bool:
        return all(getattr(self, f) == getattr(other, f) for f in self.DEFINITION_FIELDS)


@dataclass(slots=True, frozen=True)
class FireCommit:
    """What one scheduler pass decided for one acquired schedule, written atomically.

    ``jobs`` carry the deterministic keys ``schedule_key(schedule_id, fire_time)`` so that a
    repeated commit creates no second job. ``fired`` is how many fires this pass consumed
    (run_count grows by the jobs actually created).
    """

    schedule_id: str
    version: int  # the version returned by acquire_schedules
    owner: str
    jobs: tuple[Job, ...]
    next_fire_at: datetime | None
    last_fire_at: datetime | None
    fence: Fence | None = None


@dataclass(slots=True, frozen=True)
class Lease:
    """A named lease (leader election, locks). ``token`` increases on every change of owner."""

    name: str
    owner: str
    token: int
    acquired_at: datetime
    expires_at: datetime


@dataclass(slots=True, frozen=True)
class WorkerInfo:
    """A live worker as it registers itself in the store (``Store.register_worker``).

    The worker fills in who and what it is; the store sets ``last_heartbeat`` (the time of
    the registration) and ``expires_at`` (that plus the registration's ttl). An entry whose
    ``expires_at`` has passed is not listed: its worker stopped refreshing it.
    """

    id: str
    host: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    running: int  # jobs running at the last refresh
    version: str  # rota's version
    started_at: datetime
    last_heartbeat: datetime | None = None
    expires_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class JobFilter:
    status: JobStatus | None = None
    queue: str | None = None
    task: str | None = None
    schedule_id: str | None = None
    limit: int = 100
    after_id: str | None = None  # keyset pagination: ids strictly greater
    key: str | None = None  # only the job holding this dedupe key
    before_id: str | None = None  # keyset pagination the other way: ids strictly less
    newest_first: bool = False  # descending id order (ids are time-ordered: newest first)


@dataclass(slots=True, frozen=True)
class FinishedCount:
    """How many jobs of one queue ended with one final status in one time bucket
    (``Store.count_finished``); ``start`` is the bucket's start."""

    start: datetime
    queue: str
    status: JobStatus
    count: int


@dataclass(slots=True)
class QueueStats:
    counts: dict[str, dict[JobStatus, int]] = field(default_factory=dict)  # queue -> status -> n
    #: queue -> pending jobs not due yet (part of the pending count); only from ``stats(now=)``
    delayed: dict[str, int] = field(default_factory=dict)

    def total(self, status: JobStatus) -> int:
        return sum(c.get(status, 0) for c in self.counts.values())


def check_headers(headers: object) -> dict[str, str] | None:
    """``headers`` when it is None or a dict of text to text within ``MAX_HEADERS`` entries
    and ``MAX_HEADERS_TEXT`` characters, without NUL; ``ConfigError`` otherwise."""
    if headers is None:
        return None
    if type(headers) is not dict:
        raise ConfigError(f"job headers must be a dict of text to text, got {type(headers).__name__}")
    if len(headers) > MAX_HEADERS:
        raise ConfigError(f"a job carries at most {MAX_HEADERS} headers, got {len(headers)}")
    size = 0
    for name, value in headers.items():
        if type(name) is not str or type(value) is not str or not name:
            raise ConfigError(f"job headers must map non-empty text to text, got {name!r}: {value!r}")
        if "\x00" in name or "\x00" in value:
            raise ConfigError(f"job header {name!r} holds a NUL character")
        size += len(name) + len(value)
    if size > MAX_HEADERS_TEXT:
        raise ConfigError(f"job headers hold {size} characters, over the limit of {MAX_HEADERS_TEXT}")
    return headers


def schedule_key(schedule_id: str, fire_time: datetime) -> str:
    """The dedupe key of a schedule fire's job: one job per (schedule, fire time), ever."""
    return f"rota:fire:{schedule_id}@{fire_time.isoformat(timespec='milliseconds')}"
