"""What the dashboard shows of live workers and of a job's progress and trace: the one place
that knows where those come from.

Until workers register themselves in the store (the observability issue, #13), the live
workers are derived from the running jobs: one worker per lease owner, with what its
instance id tells (``host:pid:suffix``). Progress and trace ids are not recorded yet.
Each function below is the single switch point for that issue:

* ``live_workers``: becomes ``app.workers()`` mapped onto ``WorkerView`` (registered workers,
  with their running jobs still grouped from ``running``);
* ``job_progress``: becomes ``job.progress`` / the progress message;
* ``job_trace_id``: becomes the trace id of the W3C ``traceparent`` in the job's metadata.

Pages and the JSON API read only these, so the switch changes no template and no route.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rota._app import App
from rota._models import Job


@dataclass(frozen=True, slots=True)
class WorkerView:
    """One live worker as the overview shows it. Fields a source does not know are None."""

    id: str
    host: str | None = None
    pid: int | None = None
    queues: tuple[str, ...] = ()
    concurrency: int | None = None
    started_at: datetime | None = None
    last_heartbeat: datetime | None = None
    version: str | None = None
    running: int = 0
    jobs: tuple[Job, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a running job is: ``fraction`` from 0 to 1, and what it says it is doing."""

    fraction: float | None
    message: str | None = None


async def live_workers(app: App, running: Sequence[Job], now: datetime) -> list[WorkerView]:
    """The workers running jobs now, by id, each with its running jobs.

    Today: the owners of the leases of ``running`` (every worker holding one; an idle worker is
    not seen). #13 switches this to ``app.workers()`` (idle workers too, with their queues,
    concurrency, start and heartbeat), grouping ``running`` by worker id the same way."""
    del app, now  # used once workers register themselves (#13)
    by_owner: dict[str, list[Job]] = {}
    for job in running:
        if job.lease_owner:
            by_owner.setdefault(job.lease_owner, []).append(job)
    views = []
    for owner in sorted(by_owner):
        jobs = by_owner[owner]
        host, pid = _host_pid(owner)
        views.append(
            WorkerView(
                id=owner,
                host=host,
                pid=pid,
                queues=tuple(sorted({j.queue for j in jobs})),
                running=len(jobs),
                jobs=tuple(jobs),
            )
        )
    return views


def job_progress(job: Job) -> Progress | None:
    """The job's reported progress, or None. #13: ``job.progress`` and its message."""
    del job
    return None


def job_trace_id(job: Job) -> str | None:
    """The trace id of the job's W3C traceparent, or None. #13: read it from job metadata."""
    del job
    return None


def _host_pid(instance_id: str) -> tuple[str | None, int | None]:
    """``host:pid:suffix`` (rota's default instance ids); (None, None) for a custom id."""
    parts = instance_id.split(":")
    if len(parts) == 3 and parts[1].isdigit():
        return parts[0], int(parts[1])
    return None, None
