"""The JSON the API answers with: pydantic models, from which FastAPI generates the OpenAPI
schema (``/api/v1/openapi.json``). Times are ISO 8601 in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from rota._models import JobStatus, Outcome


class ErrorOut(BaseModel):
    """Every error: a stable code and a sentence for people."""

    error: str = Field(examples=["not_found"])
    message: str


class QueueRow(BaseModel):
    """One queue now (pending due now, delayed, running) and in the recent window (jobs that
    succeeded, failed or were cancelled in it)."""

    queue: str
    pending: int
    delayed: int
    running: int
    succeeded: int
    failed: int
    cancelled: int


class LeaderOut(BaseModel):
    id: str
    host: str | None
    token: int
    since: datetime
    expires_at: datetime


class JobSummary(BaseModel):
    id: str
    task: str
    queue: str
    status: JobStatus
    priority: int
    attempts: int
    max_attempts: int
    created_at: datetime | None
    due_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    schedule_id: str | None
    key: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error: str | None


class WorkerOut(BaseModel):
    """A live worker with the jobs it runs (fields its source does not know are null)."""

    id: str
    host: str | None
    pid: int | None
    queues: list[str]
    concurrency: int | None
    started_at: datetime | None
    last_heartbeat: datetime | None
    version: str | None
    running: int
    jobs: list[JobSummary]


class Overview(BaseModel):
    store: str
    version: str
    now: datetime
    window_minutes: int
    read_only: bool
    election: str | None = Field(description="the leader election's name; null when none runs")
    leader: LeaderOut | None
    queues: list[QueueRow]
    workers: list[WorkerOut]


class Bucket(BaseModel):
    start: datetime
    succeeded: int
    failed: int
    cancelled: int


class FinishedChart(BaseModel):
    """Jobs finished per bucket of time (oldest first, empty buckets included)."""

    since: datetime
    until: datetime
    bucket_seconds: int
    queue: str | None
    buckets: list[Bucket]


class JobPage(BaseModel):
    jobs: list[JobSummary]
    order: Literal["newest", "oldest"]
    limit: int
    next_cursor: str | None = Field(description="the next page (further in `order`); null at the end")
    prev_cursor: str | None = Field(description="the page before; null on the first page")


class AttemptOut(BaseModel):
    number: int
    worker: str
    started_at: datetime
    finished_at: datetime
    duration_seconds: float
    outcome: Outcome
    error_type: str | None
    error_message: str | None
    traceback: str | None


class ProgressOut(BaseModel):
    fraction: float | None
    message: str | None


class JobDetail(JobSummary):
    token: int
    fire_time: datetime | None
    timeout: float | None
    payload: Any = Field(description="the payload as JSON (null when it is not JSON: see payload_text)")
    payload_text: str = Field(description="the payload pretty-printed (or a note when it is not JSON)")
    result: Any
    result_text: str | None
    defect: str | None
    progress: ProgressOut | None
    trace_id: str | None
    history: list[AttemptOut] = Field(description="the attempts, by number")


class ScheduleOut(BaseModel):
    id: str
    task: str
    trigger: str
    queue: str
    zone: str = Field(description="the zone fire times are shown in (the cron's, else UTC)")
    paused: bool
    next_fire_at: datetime | None
    last_fire_at: datetime | None
    upcoming: list[datetime] = Field(description="the next fires (at most 5)")
    upcoming_local: list[str] = Field(description="`upcoming` written in the schedule's zone")
    last_fire_local: str | None
    run_count: int
    fail_count: int
    last_error: str | None
    last_job_id: str | None
    misfire: str
    overlap: str
    origin: str


class LeaseOut(BaseModel):
    name: str
    kind: Literal["leader", "lock", "other"]
    resource: str = Field(description="the election's or lock's own name")
    owner: str
    token: int
    acquired_at: datetime
    expires_at: datetime


class ActionResult(BaseModel):
    id: str
    ok: bool
    status: str | None = None
    new_job_id: str | None = None
    error: str | None = None
    message: str | None = None


class BulkIn(BaseModel):
    action: Literal["retry", "cancel"]
    ids: list[str] = Field(min_length=1, max_length=500)


class BulkOut(BaseModel):
    results: list[ActionResult]


class SessionOut(BaseModel):
    csrf_token: str = Field(description="send it back in the X-CSRF-Token header of actions")
    read_only: bool
    auth: str = Field(description="how this request authenticated: none, bearer, basic or session")
