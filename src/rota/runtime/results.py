"""Waiting for a job's result (``app.result``): until the job ends, woken by the store's
``watch_ended`` wake-ups, re-checking at a bounded interval where the store cannot hear other
processes; then its value, or the typed error of how it ended."""

from __future__ import annotations

import asyncio
from typing import Any

from rota._errors import JobNotFound, ResultTimeout
from rota._job_errors import JobCancelled, JobFailed
from rota._models import ErrorInfo, Job, JobStatus
from rota._serde import decode_json
from rota.runtime.context import RuntimeContext

#: The first re-check interval while no wake-up came (seconds); it doubles up to the store's
#: ``poll_interval``, so a wait on a store that cannot hear other processes costs a few reads
#: a second at first and one per ``poll_interval`` later, and a lost wake-up delays no more.
FIRST_RECHECK = 0.05


async def wait_until_ended(context: RuntimeContext, job_id: str, timeout: float | None) -> Job:
    """The job once it has a final status; ``JobNotFound`` for an unknown (or purged) id,
    ``ResultTimeout`` after ``timeout`` real seconds."""
    store = context.store
    woken = asyncio.Event()

    def heard(ended: str | None) -> None:
        if ended is None or ended == job_id:
            woken.set()

    unsubscribe = store.watch_ended(heard)
    try:
        async with asyncio.timeout(timeout):
            recheck = FIRST_RECHECK
            while True:
                woken.clear()  # before the read: a wake-up during it is not lost
                job = await store.get_job(job_id)
                if job is None:
                    raise JobNotFound(f"no job with id {job_id!r}")
                if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
                    return job
                try:
                    async with asyncio.timeout(recheck):
                        await woken.wait()
                except TimeoutError:
                    recheck = min(recheck * 2, max(FIRST_RECHECK, store.poll_interval))
    except TimeoutError:
        raise ResultTimeout(f"job {job_id} did not end within {timeout:g}s") from None
    finally:
        unsubscribe()


async def outcome_of(context: RuntimeContext, job: Job) -> Any:
    """The value of a job that ended: its decoded result when it succeeded (with the
    handler's return annotation when its task is registered here), else ``JobFailed``
    (with the last attempt's error) or ``JobCancelled``."""
    if job.status is JobStatus.SUCCEEDED:
        if job.result is None:
            return None
        task = context.tasks.get(job.task)
        if task is not None:
            return task.decode_result(job.result)
        return decode_json(job.result)
    if job.status is JobStatus.CANCELLED:
        reason = f": {job.last_error}" if job.last_error else ""
        raise JobCancelled(f"job {job.id} ({job.task}) was cancelled{reason}", job=job)
    error = await _last_error(context, job)
    summary = error.summary() if error is not None else job.last_error or "no error recorded"
    raise JobFailed(f"job {job.id} ({job.task}) failed: {summary}", job=job, error=error)


async def _last_error(context: RuntimeContext, job: Job) -> ErrorInfo | None:
    for attempt in reversed(await context.store.get_attempts(job.id)):
        if attempt.error_type is not None:
            return ErrorInfo(attempt.error_type, attempt.error_message or "", attempt.traceback)
    return None
