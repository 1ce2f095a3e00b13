"""Redis's leaves of the shared codec (rota.stores._codec).

Records are hashes with short field names (keeping a job's hash small and in the compact
listpack encoding); an optional field that is None has no hash field, nor has a job's
payload, priority, attempts or token when it holds its default. Redis hands every
value back as bytes: text is UTF-8, numbers their decimal text, booleans "1"/"0", times
integer milliseconds since the epoch, JSON values (job headers, a worker's queues) their
JSON text. Attempt records are JSON arrays (see ``_lib.lua``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rota._models import Attempt, Job, Lease, Schedule, WorkerInfo
from rota.stores._codec import Codec, Leaves

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(dt: datetime) -> int:
    return (dt - EPOCH) // _MS


def from_ms(raw: bytes | str | int) -> datetime:
    # one C call (hot in claim): ms / 1000 is within 1e-7 s of exact, and fromtimestamp
    # rounds to the nearest microsecond, so the millisecond is always exact
    return datetime.fromtimestamp(int(raw) / 1000, UTC)


def _float_text(value: float) -> str:
    # canonical, so that equal definitions compare equal byte for byte in put_schedule.lua
    return repr(float(value))


LEAVES = Leaves(
    text=(None, bytes.decode),
    int=(None, int),
    float=(_float_text, float),
    bool=(lambda flag: "1" if flag else "0", lambda raw: raw == b"1"),
    time=(to_ms, from_ms),
    json=(lambda value: json.dumps(value, separators=(",", ":")), json.loads),
    enum_key=str.encode,
)
# attempts are JSON: text and numbers arrive decoded
_JSON = Leaves(int=(None, int), float=(None, float), time=(to_ms, from_ms))

# the hash field of each stored field ("_id" is never stored: the key holds the id)
_JOB_KEYS = {
    "id": b"_id", "task": b"t", "queue": b"q", "payload": b"p", "priority": b"pr", "status": b"s",
    "due_at": b"d", "created_at": b"c", "attempts": b"a", "max_attempts": b"m", "token": b"tk",
    "lease_owner": b"lo", "lease_expires_at": b"le", "started_at": b"st", "finished_at": b"f",
    "key": b"k", "schedule_id": b"sc", "fire_time": b"ft", "timeout": b"to", "last_error": b"e",
    "result": b"r", "headers": b"h", "progress": b"pg", "progress_message": b"pm",
    "progress_at": b"pa", "concurrency_key": b"ck", "concurrency_limit": b"cl", "rate_key": b"rk",
    "rate_limit": b"rl", "rate_period": b"rp", "parents": b"pp", "parents_left": b"pl",
    "run_after_failure": b"af", "takes_result": b"tr", "dependants": b"dp",
}  # fmt: skip
_SCHEDULE_KEYS = {
    "id": b"_id", "task": b"t", "trigger": b"tr", "queue": b"q", "payload": b"p", "priority": b"pr",
    "misfire": b"mf", "misfire_grace": b"mg", "max_catchup": b"mc", "jitter": b"ji", "overlap": b"ov",
    "origin": b"og", "next_fire_at": b"nf", "last_fire_at": b"lf", "last_job_id": b"lj",
    "run_count": b"rc", "fail_count": b"fc", "last_error": b"e", "paused": b"pa", "version": b"v",
    "lease_owner": b"lo", "lease_expires_at": b"le", "created_at": b"ca", "updated_at": b"ua",
    "lease_fence_name": b"ln", "lease_fence_token": b"lt",
}  # fmt: skip

_WORKER_KEYS = {
    "id": b"_id", "host": b"h", "pid": b"p", "queues": b"q", "concurrency": b"c", "running": b"r",
    "version": b"v", "started_at": b"s", "last_heartbeat": b"hb", "expires_at": b"e",
}  # fmt: skip

# a job hash holds no field for these when they hold their default (most pending jobs): a
# smaller listpack (the scripts read an absent one as the default, see _lib.lua's int_or)
_JOB_SPARSE = ("payload", "priority", "attempts", "token")
JOBS = Codec(Job, LEAVES, _JOB_KEYS, sparse=_JOB_SPARSE)
SCHEDULES = Codec(Schedule, LEAVES, _SCHEDULE_KEYS)
LEASES = Codec(Lease, LEAVES)
ATTEMPTS = Codec(Attempt, _JSON)
WORKERS = Codec(WorkerInfo, LEAVES, _WORKER_KEYS)
worker_fields = WORKERS.pairs_encoder(WORKERS.names[1:])

_job_fields = JOBS.pairs_encoder(JOBS.names[1:])
# put_schedule.lua compares the definition field by field and writes the state only for a
# new schedule; the scripts keep the rest (a new schedule is never leased)
_SCRIPT_KEEPS = ("id", "version", "updated_at", "lease_fence_name", "lease_fence_token")
schedule_definition = SCHEDULES.pairs_encoder(Schedule.DEFINITION_FIELDS)
schedule_state = SCHEDULES.pairs_encoder(
    tuple(n for n in SCHEDULES.names if n not in (*Schedule.DEFINITION_FIELDS, *_SCRIPT_KEEPS))
)


def job_args(job: Job) -> list[Any]:
    """The job as read_job (in _lib.lua) reads it: id, queue, due, key, then its hash's
    fields and values packed in one argument (``pack``): one argument per field cost more
    to encode than the rest of an enqueue's client-side work together."""
    due_at = job.due_at
    assert due_at is not None  # Store.add checks it
    return [job.id, job.queue, to_ms(due_at), job.key or "", pack(_job_fields(job))]


def pack(values: Sequence[Any]) -> bytes:
    """``<length>:<bytes>`` for each value, as read_job's unpack reads them; a value is
    encoded as redis-py encodes an argument (text as UTF-8, numbers by ``repr``), so the
    stored hash is what it was with one argument per value."""
    out: list[bytes] = []
    for value in values:
        if isinstance(value, str):
            raw = value.encode()
        elif isinstance(value, bytes):
            raw = value
        else:  # int or float (bool is never passed: the codec writes "1"/"0")
            raw = repr(value).encode()
        out.append(b"%d:%b" % (len(raw), raw))
    return b"".join(out)


def pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    it = iter(flat)
    return dict(zip(it, it, strict=True))


def decode_job(job_id: bytes | str, flat: Sequence[bytes]) -> Job:
    """The job of a hash; one that cannot be fully read gives a job with ``defect`` set
    (see rota.stores._salvage), never an error."""
    fields = pairs(flat)
    fields[b"_id"] = job_id if isinstance(job_id, bytes) else job_id.encode()
    return JOBS.job_from_mapping(fields)


def decode_jobs(rows: Iterable[Sequence[Any]]) -> list[Job]:
    """Decode the ``{id, fields}`` rows the scripts return."""
    return [decode_job(row[0], row[1]) for row in rows]


def decode_schedule(schedule_id: bytes | str, flat: Sequence[bytes]) -> Schedule:
    fields = pairs(flat)
    fields[b"_id"] = schedule_id if isinstance(schedule_id, bytes) else schedule_id.encode()
    return SCHEDULES.from_mapping(fields)


def decode_schedules(rows: Iterable[Sequence[Any]]) -> list[Schedule]:
    return [decode_schedule(row[0], row[1]) for row in rows]


def decode_worker(worker_id: bytes, flat: Sequence[bytes]) -> WorkerInfo:
    fields = pairs(flat)
    fields[b"_id"] = worker_id
    return WORKERS.from_mapping(fields)


def decode_attempt(job_id: str, raw: bytes) -> Attempt:
    """One JSON attempt record: ``[number, worker, started, finished, outcome, error type,
    message, traceback]``, with ``false`` for an absent value (a missing start time reads as
    the finish time)."""
    values = [None if v is False else v for v in json.loads(raw)]
    if values[2] is None:
        values[2] = values[3]
    return ATTEMPTS.attempt_from_row([job_id, *values])
