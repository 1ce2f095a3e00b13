"""SQLite's leaves of the shared codec (rota.stores._codec).

Times are integer microseconds since the Unix epoch, so comparisons in SQL are integer
comparisons and nothing is lost of the caller's datetimes. ``REAL`` columns may hand back
an integer (60 for 60.0), booleans are integers and JSON values (job headers, a worker's
queues) compact JSON text; everything else is stored as it is.
Rows are in the field order of the models (the tables' column order).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial

from rota._clock import utc
from rota._models import Attempt, Job, Lease, Schedule, WorkerInfo
from rota.stores._codec import Codec, Leaves

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_us(dt: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are refused (ConfigError)."""
    if dt.tzinfo is None:
        utc(dt)  # raises ConfigError
    return (dt - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(0, 0, us)


def opt_us(dt: datetime | None) -> int | None:
    return None if dt is None else to_us(dt)


def stored_int(value: object, default: int = 0) -> int:
    """A stored number as claims compare it; a value no version of rota writes (text, a
    real) counts as ``default``, so one bad row cannot fail a claim for everyone."""
    return value if type(value) is int else default


to_json = partial(json.dumps, separators=(",", ":"), ensure_ascii=False)

LEAVES = Leaves(time=(to_us, from_us), float=(None, float), bool=(int, bool), json=(to_json, json.loads))
JOBS = Codec(Job, LEAVES)
ATTEMPTS = Codec(Attempt, LEAVES)
SCHEDULES = Codec(Schedule, LEAVES)
LEASES = Codec(Lease, LEAVES)
WORKERS = Codec(WorkerInfo, LEAVES)
