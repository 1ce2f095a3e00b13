"""The JSON API, ``/api/v1/...``: what the pages fetch, and what scripts can call. Reads are
GET; actions are POST (DELETE to remove a schedule) and need the CSRF header or a bearer
token (see _auth.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from rota import _limits
from rota._errors import ConfigError, InvalidState, JobNotFound, ScheduleNotFound
from rota._models import JobStatus
from rota.web._data import Dashboard
from rota.web._query import JobQuery
from rota.web._schemas import (
    ActionResult,
    BulkIn,
    BulkOut,
    ErrorOut,
    FinishedChart,
    JobDetail,
    JobPage,
    LeaseOut,
    Overview,
    ScheduleOut,
    SessionOut,
)

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "bad input"),
        (401, "not authenticated"),
        (403, "refused: read-only, CSRF, or not a loopback host"),
        (404, "no such job or schedule"),
        (409, "the job is not in a state that allows this"),
        (422, "a parameter of the wrong type"),
        (503, "the store is unavailable"),
    )
}
router = APIRouter(prefix="/api/v1", responses=_ERRORS, tags=["dashboard"])

JobId = Annotated[str, Path(min_length=1, max_length=_limits.MAX_NAME_LENGTH, description="a job id")]
ScheduleId = Annotated[
    str, Path(min_length=1, max_length=_limits.MAX_NAME_LENGTH, description="a schedule id")
]
Name = Annotated[str | None, Query(max_length=_limits.MAX_NAME_LENGTH)]


def board(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


@router.get("/session", response_model=SessionOut, summary="The CSRF token for actions")
async def session(request: Request) -> SessionOut:
    """Also sets the CSRF cookie the token must match (a script keeps the cookies it gets)."""
    return SessionOut(
        csrf_token=request.state.csrf, read_only=board(request).read_only, auth=request.state.via.value
    )


@router.get("/overview", response_model=Overview, summary="Queues, leader, live workers")
async def overview(request: Request) -> Overview:
    return await board(request).overview()


@router.get("/charts/finished", response_model=FinishedChart, summary="Jobs finished per time bucket")
async def finished_chart(
    request: Request,
    minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60, description="how far back")] = 60,
    bucket: Annotated[int, Query(ge=1, le=86_400, description="bucket length in seconds")] = 60,
    queue: Name = None,
) -> FinishedChart:
    return await board(request).chart(minutes=minutes, bucket_seconds=bucket, queue=queue)


@router.get("/jobs", response_model=JobPage, summary="A page of jobs (keyset pagination)")
async def list_jobs(  # noqa: PLR0917 - one parameter per filter: FastAPI reads them by name
    request: Request,
    status: JobStatus | None = None,
    queue: Name = None,
    task: Name = None,
    schedule: Name = None,
    key: Name = None,
    since: Annotated[str | None, Query(description="enqueued at or after (ISO 8601; UTC if no zone)")] = None,
    until: Annotated[str | None, Query(description="enqueued before (ISO 8601; UTC if no zone)")] = None,
    order: Literal["newest", "oldest"] = "newest",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=1000, description="next_cursor or prev_cursor of a page")
    ] = None,
) -> JobPage:
    query = JobQuery.build(
        status=status, queue=queue, task=task, schedule=schedule, key=key, since=since, until=until,
        order=order, limit=limit, cursor=cursor,
    )  # fmt: skip
    return await board(request).jobs(query)


@router.post("/jobs/bulk", response_model=BulkOut, summary="Retry or cancel many jobs")
async def bulk(request: Request, body: BulkIn) -> BulkOut:
    """Each job on its own: one that cannot be retried or cancelled does not stop the others."""
    dashboard = board(request)
    act = dashboard.retry if body.action == "retry" else dashboard.cancel
    results = []
    for job_id in dict.fromkeys(body.ids):
        try:
            _limits.name(job_id, "job id")
            job = await act(job_id)
        except (ConfigError, JobNotFound, InvalidState) as exc:
            code = {ConfigError: "bad_request", JobNotFound: "not_found"}.get(type(exc), "conflict")
            results.append(ActionResult(id=job_id, ok=False, error=code, message=str(exc)))
        else:
            results.append(ActionResult(id=job_id, ok=True, status=job.status.value))
    return BulkOut(results=results)


@router.get("/jobs/{job_id}", response_model=JobDetail, summary="One job with its attempts")
async def job(request: Request, job_id: JobId) -> JobDetail:
    return await board(request).job(job_id)


@router.post(
    "/jobs/{job_id}/retry", response_model=ActionResult, summary="Run a failed or cancelled job again"
)
async def retry(request: Request, job_id: JobId) -> ActionResult:
    job = await board(request).retry(job_id)
    return ActionResult(id=job.id, ok=True, status=job.status.value)


@router.post("/jobs/{job_id}/cancel", response_model=ActionResult, summary="Cancel a pending or running job")
async def cancel(request: Request, job_id: JobId) -> ActionResult:
    job = await board(request).cancel(job_id)
    return ActionResult(id=job.id, ok=True, status=job.status.value)


@router.post(
    "/jobs/{job_id}/abort", response_model=ActionResult,
    summary="Stop a job wherever it is, its run too; one that ended is left as it was",
)  # fmt: skip
async def abort(request: Request, job_id: JobId) -> ActionResult:
    done = await board(request).abort(job_id)
    job = done.job
    if done.applied:
        return ActionResult(id=job.id, ok=True, status=job.status.value)
    message = f"job {job.id} already ended ({job.status.value}): left as it was"
    return ActionResult(id=job.id, ok=False, status=job.status.value, error="conflict", message=message)


@router.post(
    "/jobs/{job_id}/requeue", response_model=ActionResult, summary="Enqueue a copy of a job, due now"
)
async def requeue(request: Request, job_id: JobId) -> ActionResult:
    copy = await board(request).requeue(job_id)
    return ActionResult(id=job_id, ok=True, status=copy.status.value, new_job_id=copy.id)


@router.get("/schedules", response_model=list[ScheduleOut], summary="Every schedule with its next fires")
async def schedules(request: Request) -> list[ScheduleOut]:
    return await board(request).schedules()


@router.get("/schedules/{schedule_id}", response_model=ScheduleOut, summary="One schedule")
async def schedule(request: Request, schedule_id: ScheduleId) -> ScheduleOut:
    return await board(request).schedule(schedule_id)


@router.post(
    "/schedules/{schedule_id}/{action}", response_model=ActionResult, summary="Pause, resume or trigger"
)
async def schedule_action(
    request: Request, schedule_id: ScheduleId, action: Literal["pause", "resume", "trigger"]
) -> ActionResult:
    """``trigger`` queues one job now, outside the trigger (``new_job_id``); its fires go on."""
    dashboard = board(request)
    schedules = (await dashboard.app.open()).schedules
    _limits.name(schedule_id, "schedule id")
    if action == "trigger":
        job = await schedules.trigger_now(schedule_id)
        return ActionResult(id=schedule_id, ok=True, status="triggered", new_job_id=job.id)
    info = await (schedules.pause if action == "pause" else schedules.resume)(schedule_id)
    return ActionResult(id=schedule_id, ok=True, status="paused" if info.paused else "active")


@router.delete("/schedules/{schedule_id}", response_model=ActionResult, summary="Remove a schedule")
async def remove_schedule(request: Request, schedule_id: ScheduleId) -> ActionResult:
    """Its jobs stay. A schedule still declared in code comes back when its app next opens."""
    dashboard = board(request)
    _limits.name(schedule_id, "schedule id")
    if not await (await dashboard.app.open()).schedules.remove(schedule_id):
        raise ScheduleNotFound(f"no schedule with id {schedule_id!r}")
    return ActionResult(id=schedule_id, ok=True, status="removed")


@router.get("/leases", response_model=list[LeaseOut], summary="Named leases held: the leader, the locks")
async def leases(request: Request) -> list[LeaseOut]:
    return await board(request).leases()
