"""What the dashboard shows of live workers and of a job's progress and trace: the one place
that knows where those come from.

* ``live_workers``: the store's registry of live workers (``app.workers()``: idle workers
  too, with their queues, concurrency, start and last heartbeat), each with its running jobs
  grouped by lease owner; a lease owner that is not registered (a worker of an older version,
  or one whose registry entry lapsed while its leases live) is shown from its running jobs;
* ``job_progress``: what the running (or last) attempt reported (``JobContext.progress``);
* ``job_trace_id``: the trace id of the W3C ``traceparent`` in the job's headers (set when
  the enqueuing app traces).

Pages and the JSON API read only these.
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
    """The live workers, by id, each with its running jobs (see the module's docstring)."""
    del now  # the registry lists only unexpired entries, by the app's clock
    by_owner: dict[str, list[Job]] = {}
    for job in running:
        if job.lease_owner:
            by_owner.setdefault(job.lease_owner, []).append(job)
    views = []
    for info in await app.workers():
        jobs = by_owner.pop(info.id, [])
        views.append(
            WorkerView(
                id=info.id,
                host=info.host,
                pid=info.pid,
                queues=info.queues,
                concurrency=info.concurrency,
                started_at=info.started_at,
                last_heartbeat=info.last_heartbeat,
                version=info.version,
                running=len(jobs),
                jobs=tuple(jobs),
            )
        )
    for owner, jobs in by_owner.items():
        host, pid = _host_pid(owner)
        queues = tuple(sorted({j.queue for j in jobs}))
        views.append(
            WorkerView(id=owner, host=host, pid=pid, queues=queues, running=len(jobs), jobs=tuple(jobs))
        )
    return sorted(views, key=lambda view: view.id)


def job_progress(job: Job) -> Progress | None:
    """The job's reported progress, or None when its attempt reported none."""
    if job.progress is None and job.progress_message is None:
        return None
    return Progress(job.progress, job.progress_message)


def job_trace_id(job: Job) -> str | None:
    """The trace id of the job's W3C ``traceparent`` header, or None (no header, or not one
    of version 00's form: 2 hex digits, 32, 16 and 2, dash-separated; an all-zero id is
    invalid)."""
    parent = (job.headers or {}).get("traceparent")
    if parent is None:
        return None
    parts = parent.split("-")
    if len(parts) != 4 or [len(p) for p in parts] != [2, 32, 16, 2]:
        return None
    trace_id = parts[1].lower()
    if not all(c in "0123456789abcdef" for c in trace_id) or trace_id == "0" * 32:
        return None
    return trace_id


def _host_pid(instance_id: str) -> tuple[str | None, int | None]:
    """``host:pid:suffix`` (rota's default instance ids); (None, None) for a custom id."""
    parts = instance_id.split(":")
    if len(parts) == 3 and parts[1].isdigit():
        return parts[0], int(parts[1])
    return None, None
