"""PostgreSQL's leaves of the shared codec (rota.stores._codec).

asyncpg takes and hands back every value in the type the models use (timestamptz as aware
datetimes, bytea as bytes, float8, boolean): only enums are stored as their text. Rows are
``SELECT *`` of a table, whose first columns are the model's fields in order (migrations
only append columns; a test checks), so every row is decoded by position; ``width`` cuts off
the appended columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rota._models import Attempt, Job, Lease, Schedule
from rota.stores._codec import Codec, Leaves

LEAVES = Leaves()
JOBS = Codec(Job, LEAVES)
ATTEMPTS = Codec(Attempt, LEAVES)
SCHEDULES = Codec(Schedule, LEAVES)
LEASES = Codec(Lease, LEAVES)

JOB_WIDTH = len(JOBS.fields)
SCHEDULE_WIDTH = len(SCHEDULES.fields)

# the columns add_jobs unnests (the rest of a new job's row is its initial state)
NEW_JOB_COLUMNS = (
    "id", "task", "queue", "payload", "priority", "due_at", "created_at", "max_attempts", "key",
    "schedule_id", "fire_time", "timeout",
)  # fmt: skip
new_job_row = JOBS.row_encoder(NEW_JOB_COLUMNS)


def job_arrays(jobs: Sequence[Job]) -> list[list[Any] | None]:
    """The column arrays of add_jobs, in parameter order (``nullable`` each)."""
    return [nullable(list(column)) for column in zip(*map(new_job_row, jobs), strict=True)]


def nullable(values: list[Any]) -> list[Any] | None:
    """A column array, or NULL when every value is NULL: unnest pads a NULL array with NULLs,
    and the driver then encodes (and type-checks) nothing for it."""
    return values if any(v is not None for v in values) else None
