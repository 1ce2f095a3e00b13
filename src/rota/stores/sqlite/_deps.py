"""Dependencies on SQLite: settling the dependants of a job that ended, in the write
transaction that ended it (the shared rules are ``rota.stores._deps``)."""

from __future__ import annotations

import sqlite3

from rota._models import Job, JobStatus
from rota.stores._deps import cascade
from rota.stores._resources import queries
from rota.stores.sqlite._codec import JOBS, from_us, to_us
from rota.stores.sqlite._counts import Counts

Q = queries(__name__.rpartition(".")[0], "jobs")


def settle_dependants(
    conn: sqlite3.Connection, parent: tuple[str, JobStatus, bytes | None], now_us: int, counts: Counts
) -> bool:
    """Settle the dependants of a job that just ended (``_deps.cascade``) in the caller's
    write transaction; returns whether one was released (pending: wake the workers)."""
    released = False

    def load(job_id: str) -> Job | None:
        row = conn.execute(Q["get_job"], (job_id,)).fetchone()
        return None if row is None else JOBS.job_from_row(row)

    def save(child: Job, changes: dict[str, object]) -> None:
        nonlocal released
        new = child.replace(**changes)
        finished = new.finished_at
        conn.execute(
            Q["settle_child"],
            {
                "id": child.id, "status": new.status.value, "parents_left": new.parents_left,
                "payload": new.payload, "finished_at": None if finished is None else to_us(finished),
                "last_error": new.last_error,
            },
        )  # fmt: skip
        counts.move(child.queue, child.status.value, new.status.value)
        released = released or new.status is JobStatus.PENDING

    def children_of(job_id: str) -> list[str]:
        return [row[0] for row in conn.execute(Q["take_edges"], (job_id,)).fetchall()]

    cascade(parent, children_of, load, save, from_us(now_us))
    return released
