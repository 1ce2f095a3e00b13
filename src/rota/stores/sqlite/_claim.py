"""Claims on SQLite: the due jobs of some queues in claim order, with their limits and
with expired leases taken over, in one write transaction on the store's thread."""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from rota._models import Job, JobStatus
from rota.stores._gate import Gate
from rota.stores._resources import queries
from rota.stores.sqlite._codec import JOBS, stored_int, to_us
from rota.stores.sqlite._connection import write
from rota.stores.sqlite._counts import PENDING, RUNNING, Counts
from rota.stores.sqlite._deps import settle_dependants

Q = queries(__name__.rpartition(".")[0], "jobs")
#: Held-back limited jobs a claim passes over, at most (see MemoryJobs.claim).
HELD_SCAN = 1000
#: Rounds of a claim that keeps finding expired leases on their last attempt.
_ROUNDS = 16


def _sort_key(job: Job) -> tuple[int, datetime | None, str]:
    return (-job.priority, job.due_at, job.id)


def claim(
    conn: sqlite3.Connection, names: list[str], worker: str, limit: int, *, until: datetime, now: datetime
) -> list[Job]:
    base = {"worker": worker, "expires": to_us(until), "now": to_us(now)}
    with write(conn):
        rows = None
        if len(names) == 1:
            expired, limited, plain = conn.execute(
                Q["any_expired"], {"queue": names[0], "now": base["now"]}
            ).fetchone()
            if not expired and not limited:
                rows = conn.execute(
                    Q["claim_pending"], {**base, "queue": names[0], "limit": limit}
                ).fetchall()
                counts = Counts()
                counts.move(names[0], PENDING, RUNNING, len(rows))
                counts.write(conn)
            elif not expired:
                rows = _claim_batch(conn, names[0], limit, base, mixed=bool(plain))
        if rows is None:
            rows = _claim_general(conn, names, limit, base)
    jobs = [JOBS.job_from_row(r) for r in rows]
    jobs.sort(key=_sort_key)
    return jobs


def _claim_batch(
    conn: sqlite3.Connection, queue: str, limit: int, base: dict[str, Any], *, mixed: bool
) -> list[Any] | None:
    """One queue without expired leases: the first ``limit`` due jobs in claim order, with
    limits or not, when their limits admit every one of them (the walk of ``_claim_general``
    would take the same jobs), claimed in one statement. The ``Gate`` decides per key at
    once (``Gate.admit_batch``): one count of a concurrency key's running jobs, one read of
    a rate key's bucket. None when a job is held back: nothing was written, the caller walks
    instead. ``mixed``: jobs without limits are due too (else only limited ones are read)."""
    now = base["now"]
    args = {"queue": queue, "now": now, "limit": limit}
    window = conn.execute(Q["claim_window" if mixed else "limited_window"], args).fetchall()
    gate = _gate(conn, now)
    if not gate.admit_batch([row[1:] for row in window]):
        return None
    rows = conn.execute(Q["claim_ids"], {**base, "ids": json.dumps([row[0] for row in window])}).fetchall()
    for key, tat in gate.changed().items():
        conn.execute(Q["put_bucket"], (key, tat))
    counts = Counts()
    counts.move(queue, PENDING, RUNNING, len(rows))
    counts.write(conn)
    return rows


def _gate(conn: sqlite3.Connection, now: int) -> Gate:
    return Gate(now, lambda key: _scalar(conn, "live_holders", {"key": key, "now": now}), bucket_reader(conn))


def _claim_general(
    conn: sqlite3.Connection, queues: list[str], limit: int, base: dict[str, Any]
) -> list[Any]:
    """Several queues, expired leases to take over, or jobs with limits: merge the
    candidates of every queue in claim order in Python (inside the write transaction),
    record lost attempts, pass over the jobs their limits hold back, then claim.

    Unlimited pending and expired candidates are read ``need`` at a time; limited pending
    ones as far as needed (held-back ones do not count), up to ``HELD_SCAN`` passed over.
    Decisions are made while the candidate cursors are open and written after, so no write
    changes what a cursor walks."""
    now = base["now"]
    claimed: list[Any] = []
    counts = Counts()
    need = limit
    gate = _gate(conn, now)
    for _ in range(_ROUNDS):
        cands: list[tuple[Any, ...]] = []
        full = False  # a list of unlimited or expired candidates may have more after it
        for q in queues:
            args = {"queue": q, "now": now, "limit": need}
            pending = conn.execute(Q["pending_candidates"], args).fetchall()
            cands.extend((-stored_int(p), stored_int(due), i, q, None) for i, p, due in pending)
            expired = conn.execute(Q["expired_candidates"], args).fetchall()
            cands.extend((-stored_int(r[1]), stored_int(r[2]), r[0], q, r) for r in expired)
            full = full or len(pending) == need or len(expired) == need
        cands.sort(key=lambda c: c[:3])
        cursors = [conn.execute(Q["limited_candidates"], {"queue": q, "now": now}) for q in queues]
        limited = heapq.merge(*(_limited_rows(c, q) for c, q in zip(cursors, queues, strict=True)))
        take: list[str] = []
        lost: list[Any] = []  # expired: (row, taken again?)
        passed = 0
        for cand in heapq.merge(cands, islice(limited, HELD_SCAN + need)):
            if len(take) >= need:
                break
            job_id, queue, row = cand[2], cand[3], cand[4]
            if row is None:  # unlimited, pending
                take.append(job_id)
                counts.move(queue, PENDING, RUNNING)
            elif len(row) == 6:  # limited, pending
                if gate.admit_limits(*row[1:]):
                    take.append(job_id)
                    counts.move(queue, PENDING, RUNNING)
                else:
                    passed += 1
            else:  # expired: its lost attempt is recorded whatever comes next
                dies = stored_int(row[6]) >= stored_int(row[7], 1)
                again = not dies and ((row[9] is None and row[11] is None) or gate.admit_limits(*row[9:14]))
                lost.append((row, dies, again, queue))
                if again:
                    take.append(job_id)
        for cursor in cursors:
            cursor.close()
        died = 0
        for row, dies, again, queue in lost:
            if dies:
                _record_lost(conn, row, now)
                died += 1
                counts.move(queue, RUNNING, JobStatus.FAILED.value)
                if row[14]:
                    settle_dependants(conn, (row[0], JobStatus.FAILED, None), now, counts)
            else:
                _record_lost(conn, row, now)
                if not again:  # its limits hold it back: pending again
                    conn.execute(Q["hold_lost_job"], (row[0],))
                    counts.move(queue, RUNNING, PENDING)
        if take:
            claimed.extend(conn.execute(Q["claim_ids"], {**base, "ids": json.dumps(take)}))
        need -= len(take)
        if need <= 0 or not full:
            break  # else dead or held-back expired jobs left places in a full list: look again
    for key, tat in gate.changed().items():
        conn.execute(Q["put_bucket"], (key, tat))
    counts.write(conn)
    return claimed


def _limited_rows(cursor: sqlite3.Cursor, queue: str) -> Iterator[tuple[Any, ...]]:
    for job_id, priority, due, *limits in cursor:
        yield (-stored_int(priority), stored_int(due), job_id, queue, (job_id, *limits))


def _scalar(conn: sqlite3.Connection, query: str, args: Any) -> Any:
    return conn.execute(Q[query], args).fetchone()[0]


def bucket_reader(conn: sqlite3.Connection) -> Callable[[str], int | None]:
    def read(key: str) -> int | None:
        row = conn.execute(Q["bucket"], (key,)).fetchone()
        return None if row is None else stored_int(row[0])

    return read


def _record_lost(conn: sqlite3.Connection, lost: Any, now: int) -> bool:
    """Record the vanished worker's attempt; returns True when that was the job's last."""
    job_id, _, _, token, owner, started_at, attempts, max_attempts, schedule_id = lost[:9]
    conn.execute(
        Q["insert_attempt"],
        (job_id, token, owner or "", started_at or now, now, "lease_lost", None, None, None),
    )
    if stored_int(attempts) < stored_int(max_attempts, 1):
        return False
    error = f"lease lost: worker {owner} stopped renewing its lease"
    conn.execute(Q["fail_lost_job"], {"id": job_id, "now": now, "error": error})
    if schedule_id is not None:
        conn.execute(Q["schedule_failed"], (error, schedule_id))
    return True
