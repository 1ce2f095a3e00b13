"""Rendering jobs for people: tables, durations, times."""

from __future__ import annotations

import sys
from datetime import datetime

from rich.console import Console
from rich.table import Table

from rota._models import Attempt, Job


def console() -> Console:
    """A console for tables: terminal width on a terminal, wide enough for ids when piped."""
    return Console() if sys.stdout.isatty() else Console(width=240)


def when(dt: datetime | None) -> str:
    return "-" if dt is None else dt.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def jobs_table(jobs: list[Job]) -> Table:
    table = Table(show_lines=False)
    for column in ("id", "task", "queue", "status", "attempts", "due", "last error"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        table.add_row(
            job.id, job.task, job.queue, str(job.status), f"{job.attempts}/{job.max_attempts}",
            when(job.due_at), (job.last_error or "")[:60],
        )  # fmt: skip
    return table


def attempts_table(attempts: list[Attempt]) -> Table:
    table = Table(title="attempts")
    for column in ("#", "worker", "started", "took", "outcome", "error"):
        table.add_column(column, overflow="fold")
    for a in attempts:
        took = (a.finished_at - a.started_at).total_seconds()
        error = f"{a.error_type}: {a.error_message}" if a.error_type else ""
        table.add_row(str(a.number), a.worker, when(a.started_at), f"{took:.3f}s", str(a.outcome), error[:80])
    return table
