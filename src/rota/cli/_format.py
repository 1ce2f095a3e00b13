"""Rendering jobs for people: tables, durations, times.

rich is imported by the functions that draw, not with this module: every command module
imports this one, and ``rota worker`` (which draws nothing) should not carry rich's ~3 MB."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rota._errors import PayloadError
from rota._models import Attempt, Job, WorkerInfo
from rota._serde import decode_json

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text


def console() -> Console:
    """A console for tables: terminal width on a terminal, wide enough for ids when piped."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=240)


def when(dt: datetime | None) -> str:
    return "-" if dt is None else dt.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def plain(*values: object) -> list[Text]:
    """Table cells shown as they are: stored text (names, errors) is never rich markup, so a
    "[/x]" in an error message cannot break a listing."""
    from rich.text import Text

    return [Text(str(v)) for v in values]


def jobs_table(jobs: list[Job]) -> Table:
    from rich.table import Table

    table = Table(show_lines=False)
    for column in ("id", "task", "queue", "status", "attempts", "due", "last error"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        table.add_row(*plain(
            job.id, job.task, job.queue, str(job.status), f"{job.attempts}/{job.max_attempts}",
            when(job.due_at), (job.last_error or "")[:60],
        ))  # fmt: skip
    return table


def attempts_table(attempts: list[Attempt]) -> Table:
    from rich.table import Table

    table = Table(title="attempts")
    for column in ("#", "worker", "started", "took", "outcome", "error"):
        table.add_column(column, overflow="fold")
    for a in attempts:
        took = (a.finished_at - a.started_at).total_seconds()
        error = f"{a.error_type}: {a.error_message}" if a.error_type else ""
        cells = (a.number, a.worker, when(a.started_at), f"{took:.3f}s", a.outcome, error[:80])
        table.add_row(*plain(*cells))
    return table


def json_value(data: bytes | None) -> Any:
    """A stored payload or result as JSON, or its text when it is not JSON."""
    if data is None:
        return None
    try:
        return decode_json(data)
    except PayloadError:
        return {"undecodable": data.decode("utf-8", errors="replace")}


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def job_dict(job: Job) -> dict[str, Any]:
    """A job as JSON (``--json``): times in ISO 8601 UTC, payload and result decoded."""
    return {
        "id": job.id, "task": job.task, "queue": job.queue, "status": str(job.status),
        "priority": job.priority, "attempts": job.attempts, "max_attempts": job.max_attempts,
        "due_at": iso(job.due_at), "created_at": iso(job.created_at), "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at), "key": job.key, "schedule_id": job.schedule_id,
        "fire_time": iso(job.fire_time), "timeout": job.timeout, "lease_owner": job.lease_owner,
        "lease_expires_at": iso(job.lease_expires_at), "last_error": job.last_error,
        "payload": json_value(job.payload), "result": json_value(job.result),
        "progress": job.progress, "progress_message": job.progress_message,
        "progress_at": iso(job.progress_at), "headers": job.headers,
        "parents": list(job.parents) if job.parents is not None else None,
        "parents_left": job.parents_left, "dependants": job.dependants,
    }  # fmt: skip


def progress(job: Job) -> str:
    """A job's last reported progress: ``"40% reading (2030-01-01 10:00:00 UTC)"``, or "-"."""
    if job.progress is None:
        return "-"
    text = f"{job.progress:.0%}"
    if job.progress_message:
        text += f" {job.progress_message}"
    return f"{text} ({when(job.progress_at)})"


def workers_table(workers: list[WorkerInfo]) -> Table:
    from rich.table import Table

    table = Table(title="live workers")
    for column in ("id", "host", "pid", "queues", "running", "version", "started", "last heartbeat"):
        table.add_column(column, overflow="fold")
    for w in workers:
        table.add_row(*plain(
            w.id, w.host, w.pid, ",".join(w.queues), f"{w.running}/{w.concurrency}", w.version,
            when(w.started_at), when(w.last_heartbeat),
        ))  # fmt: skip
    return table


def worker_dict(w: WorkerInfo) -> dict[str, Any]:
    return {
        "id": w.id, "host": w.host, "pid": w.pid, "queues": list(w.queues), "concurrency": w.concurrency,
        "running": w.running, "version": w.version, "started_at": iso(w.started_at),
        "last_heartbeat": iso(w.last_heartbeat), "expires_at": iso(w.expires_at),
    }  # fmt: skip


def attempt_dict(a: Attempt) -> dict[str, Any]:
    return {
        "number": a.number, "worker": a.worker, "started_at": iso(a.started_at),
        "finished_at": iso(a.finished_at), "outcome": str(a.outcome), "error_type": a.error_type,
        "error_message": a.error_message, "traceback": a.traceback,
    }  # fmt: skip


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))
