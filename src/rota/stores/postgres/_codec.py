"""PostgreSQL's leaves of the shared codec (rota.stores._codec).

asyncpg takes and hands back every value in the type the models use (timestamptz as aware
datetimes, bytea as bytes, float8, boolean): enums are stored as their text and JSON values
(job headers, a worker's queues) as jsonb, which asyncpg passes as text. Rows are ``SELECT *``
of a table, decoded by position: a table's columns are its model's fields in order, except
that ``jobs`` has ``worker`` (migration 0002, no field of Job) between ``result`` and the
fields added later (``JOB_COLUMNS``; migrations only append columns, a test checks); a
``*_WIDTH`` cuts off what a statement returns after the table's columns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import Any

from rota._models import Attempt, Job, Lease, Schedule, WorkerInfo
from rota.stores._codec import Codec, Leaves, fields_of

LEAVES = Leaves(json=(partial(json.dumps, separators=(",", ":")), json.loads))

_JOB_FIELDS = [f.name for f in fields_of(Job)]
_AFTER_WORKER = _JOB_FIELDS.index("result") + 1
#: the columns of the jobs table, in order: Job's fields with `worker` after `result`
JOB_COLUMNS = (*_JOB_FIELDS[:_AFTER_WORKER], "worker", *_JOB_FIELDS[_AFTER_WORKER:])

JOBS = Codec(Job, LEAVES, columns=JOB_COLUMNS)
ATTEMPTS = Codec(Attempt, LEAVES)
SCHEDULES = Codec(Schedule, LEAVES)
LEASES = Codec(Lease, LEAVES)
WORKERS = Codec(WorkerInfo, LEAVES)

JOB_WIDTH = len(JOB_COLUMNS)
SCHEDULE_WIDTH = len(SCHEDULES.fields)


# the columns add_jobs unnests (the rest of a new job's row is its initial state)
NEW_JOB_COLUMNS = (
    "id", "task", "queue", "payload", "priority", "due_at", "created_at", "max_attempts", "key",
    "schedule_id", "fire_time", "timeout", "headers", "concurrency_key", "concurrency_limit",
    "rate_key", "rate_limit", "rate_period",
)  # fmt: skip
new_job_row = JOBS.row_encoder(NEW_JOB_COLUMNS)


def job_arrays(jobs: Sequence[Job]) -> list[list[Any] | None]:
    """The column arrays of add_jobs, in parameter order (``nullable`` each)."""
    return [nullable(list(column)) for column in zip(*map(new_job_row, jobs), strict=True)]


def nullable(values: list[Any]) -> list[Any] | None:
    """A column array, or NULL when every value is NULL: unnest pads a NULL array with NULLs,
    and the driver then encodes (and type-checks) nothing for it."""
    return values if any(v is not None for v in values) else None
