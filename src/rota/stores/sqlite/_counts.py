"""The per-queue, per-status job counts (table ``job_counts``) that ``stats`` reads without
a scan: every write that changes a job's status gathers its moves in a ``Counts`` and writes
them at the end of the same transaction."""

from __future__ import annotations

import sqlite3

from rota._models import JobStatus
from rota.stores._resources import queries

Q = queries(__name__.rpartition(".")[0], "jobs")
PENDING = JobStatus.PENDING.value
RUNNING = JobStatus.RUNNING.value


class Counts:
    """Changes to job_counts gathered during one transaction and written at its end."""

    __slots__ = ("delta",)

    def __init__(self) -> None:
        self.delta: dict[tuple[str, str], int] = {}

    def add(self, queue: str, status: str, n: int = 1) -> None:
        key = (queue, status)
        self.delta[key] = self.delta.get(key, 0) + n

    def move(self, queue: str, old: str, new: str, n: int = 1) -> None:
        if old != new and n:
            self.add(queue, old, -n)
            self.add(queue, new, n)

    def write(self, conn: sqlite3.Connection) -> None:
        rows = [(q, s, n) for (q, s), n in self.delta.items() if n]
        if rows:
            conn.executemany(Q["count_bump"], rows)
