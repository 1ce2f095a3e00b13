"""Encoding of jobs, attempts and schedules as Redis hash fields (short names keep the
per-job hash small and in the compact listpack encoding).

Times are integer milliseconds since the epoch; absent values are absent fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rota._models import (
    Attempt,
    Job,
    JobStatus,
    MisfirePolicy,
    Outcome,
    OverlapPolicy,
    Schedule,
)
from rota.stores._salvage import checked, salvage

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

Fields = dict[bytes, bytes]


def to_ms(dt: datetime) -> int:
    return (dt - EPOCH) // _MS


def from_ms(raw: bytes | str | int) -> datetime:
    # one C call (hot in claim): ms / 1000 is within 1e-7 s of exact, and fromtimestamp
    # rounds to the nearest microsecond, so the millisecond is always exact
    return datetime.fromtimestamp(int(raw) / 1000, UTC)


def pairs(flat: Sequence[bytes]) -> Fields:
    it = iter(flat)
    return dict(zip(it, it, strict=True))


def _opt_ms(fields: Fields, name: bytes) -> datetime | None:
    raw = fields.get(name)
    return None if raw is None else from_ms(raw)


def _opt_str(fields: Fields, name: bytes) -> str | None:
    raw = fields.get(name)
    return None if raw is None else raw.decode()


# -- jobs --------------------------------------------------------------------------------


def job_args(job: Job) -> list[bytes | str | int]:
    """The job as read_job (in _lib.lua) reads it: id, queue, due, key, n, fields..."""
    if job.due_at is None:
        from rota._errors import ConfigError

        raise ConfigError(f"job {job.id} has no due_at; stores take fully built jobs")
    due = to_ms(job.due_at)
    f: list[bytes | str | int] = [
        b"t", job.task, b"q", job.queue, b"p", job.payload, b"pr", job.priority,
        b"s", job.status.value, b"d", due, b"a", job.attempts, b"m", job.max_attempts,
        b"tk", job.token,
    ]  # fmt: skip
    if job.created_at is not None:
        f += (b"c", to_ms(job.created_at))
    if job.key is not None:
        f += (b"k", job.key)
    if job.schedule_id is not None:
        f += (b"sc", job.schedule_id)
    if job.fire_time is not None:
        f += (b"ft", to_ms(job.fire_time))
    if job.timeout is not None:
        f += (b"to", repr(float(job.timeout)))
    if job.last_error is not None:
        f += (b"e", job.last_error)
    if job.result is not None:
        f += (b"r", job.result)
    if job.lease_owner is not None:
        f += (b"lo", job.lease_owner)
    if job.lease_expires_at is not None:
        f += (b"le", to_ms(job.lease_expires_at))
    if job.started_at is not None:
        f += (b"st", to_ms(job.started_at))
    if job.finished_at is not None:
        f += (b"f", to_ms(job.finished_at))
    return [job.id, job.queue, due, job.key or "", len(f), *f]


def decode_job(job_id: bytes | str, flat: Sequence[bytes]) -> Job:
    """The job of a hash; a hash that cannot be fully read gives a job with ``defect`` set
    (see rota.stores._salvage), never an error."""
    f = pairs(flat)
    timeout = f.get(b"to")
    try:
        job = _decode_job(job_id, f, timeout)
    except (KeyError, ValueError, TypeError, OverflowError, OSError, AttributeError):
        raw = {name: f.get(code) for name, code in _JOB_CODES.items()}
        return salvage(job_id, raw, _JOB_CONVERT)
    return checked(job)


def _decode_job(job_id: bytes | str, f: Fields, timeout: bytes | None) -> Job:
    return Job(
        id=job_id.decode() if isinstance(job_id, bytes) else job_id,
        task=f[b"t"].decode(),
        queue=f[b"q"].decode(),
        payload=f[b"p"],
        priority=int(f[b"pr"]),
        status=JobStatus(f[b"s"].decode()),
        due_at=from_ms(f[b"d"]),
        created_at=_opt_ms(f, b"c"),
        attempts=int(f[b"a"]),
        max_attempts=int(f[b"m"]),
        token=int(f[b"tk"]),
        lease_owner=_opt_str(f, b"lo"),
        lease_expires_at=_opt_ms(f, b"le"),
        started_at=_opt_ms(f, b"st"),
        finished_at=_opt_ms(f, b"f"),
        key=_opt_str(f, b"k"),
        schedule_id=_opt_str(f, b"sc"),
        fire_time=_opt_ms(f, b"ft"),
        timeout=None if timeout is None else float(timeout),
        last_error=_opt_str(f, b"e"),
        result=f.get(b"r"),
    )


# the hash field of each stored job field, and how each is read when salvaging
_JOB_CODES = {
    "task": b"t", "queue": b"q", "payload": b"p", "priority": b"pr", "status": b"s",
    "due_at": b"d", "created_at": b"c", "attempts": b"a", "max_attempts": b"m", "token": b"tk",
    "lease_owner": b"lo", "lease_expires_at": b"le", "started_at": b"st", "finished_at": b"f",
    "key": b"k", "schedule_id": b"sc", "fire_time": b"ft", "timeout": b"to", "last_error": b"e",
    "result": b"r",
}  # fmt: skip


def _required(convert: Callable[[bytes], Any]) -> Callable[[bytes | None], Any]:
    def read(raw: bytes | None) -> Any:
        if raw is None:
            raise KeyError("missing")
        return convert(raw)

    return read


def _optional(convert: Callable[[bytes], Any]) -> Callable[[bytes | None], Any]:
    return lambda raw: None if raw is None else convert(raw)


_JOB_CONVERT: dict[str, Callable[[Any], Any]] = {
    "task": _required(bytes.decode),
    "queue": _required(bytes.decode),
    "payload": _required(bytes),
    "priority": _required(int),
    "status": _required(lambda raw: JobStatus(raw.decode())),
    "due_at": _required(from_ms),
    "attempts": _required(int),
    "max_attempts": _required(int),
    "token": _required(int),
    "timeout": _optional(float),
    **{name: _optional(from_ms) for name in ("created_at", "lease_expires_at", "started_at")},
    **{name: _optional(from_ms) for name in ("finished_at", "fire_time")},
    **{name: _optional(bytes.decode) for name in ("lease_owner", "key", "schedule_id", "last_error")},
}


def decode_jobs(rows: Iterable[Sequence[object]]) -> list[Job]:
    """Decode the ``{id, fields}`` rows the scripts return."""
    return [decode_job(row[0], row[1]) for row in rows]  # type: ignore[arg-type]


def decode_attempt(job_id: str, raw: bytes) -> Attempt:
    number, worker, started, finished, outcome, etype, emsg, tb = json.loads(raw)
    return Attempt(
        job_id=job_id,
        number=int(number) if str(number).lstrip("-").isdigit() else 0,
        worker=worker or "",
        started_at=_time_or_epoch(started or finished),
        finished_at=_time_or_epoch(finished),
        outcome=_OUTCOMES.get(outcome, Outcome.FAILED),
        error_type=etype or None,
        error_message=emsg if isinstance(emsg, str) else None,
        traceback=tb or None,
    )


_OUTCOMES = {o.value: o for o in Outcome}


def _time_or_epoch(raw: object) -> datetime:
    """An attempt's time (the scripts copy it from the job's hash): one that cannot be read
    reads as the epoch rather than failing the whole history."""
    try:
        return from_ms(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return EPOCH


# -- schedules ---------------------------------------------------------------------------


def schedule_definition(s: Schedule) -> list[bytes | str]:
    """The definition fields, encoded canonically so that equal definitions compare equal
    byte for byte inside the put_schedule script."""
    return [
        "t", s.task, "tr", s.trigger, "q", s.queue, "p", s.payload, "pr", str(s.priority),
        "mf", s.misfire.value, "mg", repr(float(s.misfire_grace)), "mc", str(s.max_catchup),
        "ji", repr(float(s.jitter)), "ov", s.overlap.value, "og", s.origin,
    ]  # fmt: skip


def schedule_state(s: Schedule) -> list[bytes | str | int]:
    f: list[bytes | str | int] = [
        "rc", s.run_count, "fc", s.fail_count, "pa", "1" if s.paused else "0",
    ]  # fmt: skip
    for name, dt in (
        ("nf", s.next_fire_at),
        ("lf", s.last_fire_at),
        ("le", s.lease_expires_at),
        ("ca", s.created_at),
    ):
        if dt is not None:
            f += (name, to_ms(dt))
    for name, text in (("lj", s.last_job_id), ("e", s.last_error), ("lo", s.lease_owner)):
        if text is not None:
            f += (name, text)
    return f


def decode_schedule(schedule_id: bytes | str, flat: Sequence[bytes]) -> Schedule:
    f = pairs(flat)
    return Schedule(
        id=schedule_id.decode() if isinstance(schedule_id, bytes) else schedule_id,
        task=f[b"t"].decode(),
        trigger=f[b"tr"].decode(),
        queue=f[b"q"].decode(),
        payload=f[b"p"],
        priority=int(f[b"pr"]),
        misfire=MisfirePolicy(f[b"mf"].decode()),
        misfire_grace=float(f[b"mg"]),
        max_catchup=int(f[b"mc"]),
        jitter=float(f[b"ji"]),
        overlap=OverlapPolicy(f[b"ov"].decode()),
        origin=f[b"og"].decode(),
        next_fire_at=_opt_ms(f, b"nf"),
        last_fire_at=_opt_ms(f, b"lf"),
        last_job_id=_opt_str(f, b"lj"),
        run_count=int(f.get(b"rc", b"0")),
        fail_count=int(f.get(b"fc", b"0")),
        last_error=_opt_str(f, b"e"),
        paused=f.get(b"pa") == b"1",
        version=int(f.get(b"v", b"0")),
        lease_owner=_opt_str(f, b"lo"),
        lease_expires_at=_opt_ms(f, b"le"),
        created_at=_opt_ms(f, b"ca"),
        updated_at=_opt_ms(f, b"ua"),
        lease_fence_name=_opt_str(f, b"ln"),
        lease_fence_token=int(f[b"lt"]) if b"lt" in f else None,
    )


def decode_schedules(rows: Iterable[Sequence[object]]) -> list[Schedule]:
    return [decode_schedule(row[0], row[1]) for row in rows]  # type: ignore[arg-type]
