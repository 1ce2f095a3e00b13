"""PostgreSQL's leaves of the shared codec (rota.stores._codec).

asyncpg takes and hands back every value in the type the models use (timestamptz as aware
datetimes, bytea as bytes, float8, boolean): only enums are stored as their text. Rows are
``SELECT *`` of a table, whose columns are the model's fields in order (migrations only
append columns; a test checks), so every row is decoded by position. The jobs table has one
column that is not a field of Job, ``worker`` (migration 2, after ``result``): job rows are
read through ``job_fields``, which leaves it out; ``JOB_WIDTH`` is the table's width.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from rota._models import Attempt, Job, Lease, Schedule
from rota.stores._codec import Codec, Leaves

LEAVES = Leaves()
JOBS = Codec(Job, LEAVES)
ATTEMPTS = Codec(Attempt, LEAVES)
SCHEDULES = Codec(Schedule, LEAVES)
LEASES = Codec(Lease, LEAVES)

#: The jobs table's columns: Job's fields, with ``worker`` after ``result`` (the fields added
#: to Job since come after it, as their migrations appended them).
JOB_COLUMNS = (
    *JOBS.names[: JOBS.names.index("result") + 1],
    "worker",
    *JOBS.names[JOBS.names.index("result") + 1 :],
)
JOB_WIDTH = len(JOB_COLUMNS)
SCHEDULE_WIDTH = len(SCHEDULES.fields)


def job_fields(start: int = 0) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function giving, from a row whose columns from ``start`` on are ``jobs.*``, the
    values of Job's fields in order."""
    return operator.itemgetter(*(start + i for i, c in enumerate(JOB_COLUMNS) if c != "worker"))


# the columns add_jobs unnests (the rest of a new job's row is its initial state)
NEW_JOB_COLUMNS = (
    "id", "task", "queue", "payload", "priority", "due_at", "created_at", "max_attempts", "key",
    "schedule_id", "fire_time", "timeout", "concurrency_key", "concurrency_limit", "rate_key",
    "rate_limit", "rate_period",
)  # fmt: skip
new_job_row = JOBS.row_encoder(NEW_JOB_COLUMNS)


def job_arrays(jobs: Sequence[Job]) -> list[list[Any] | None]:
    """The column arrays of add_jobs, in parameter order (``nullable`` each)."""
    return [nullable(list(column)) for column in zip(*map(new_job_row, jobs), strict=True)]


def nullable(values: list[Any]) -> list[Any] | None:
    """A column array, or NULL when every value is NULL: unnest pads a NULL array with NULLs,
    and the driver then encodes (and type-checks) nothing for it."""
    return values if any(v is not None for v in values) else None
