"""How stores read jobs that no run can use: stand-ins for the bad fields, named in ``defect``."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from rota._models import Job, JobStatus
from rota.stores._salvage import EPOCH, checked, job_defect, salvage

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def sound() -> Job:
    return Job("j1", "t", payload=b"1", due_at=NOW, created_at=NOW, timeout=5.0, result=b"2")


def test_a_sound_job_is_returned_as_it_is() -> None:
    job = sound()
    assert job_defect(job) is None
    assert checked(job) is job


@pytest.mark.parametrize(
    ("field", "value", "stand_in"),
    [
        ("priority", "x", 0),
        ("priority", True, 0),  # a bool is not a priority
        ("attempts", 1.5, 0),
        ("token", None, 0),
        ("timeout", math.nan, None),
        ("timeout", -1.0, None),
        ("timeout", math.inf, None),
        ("status", "zombie", JobStatus.FAILED),
        ("due_at", "yesterday", EPOCH),
        ("due_at", datetime(9999, 12, 31), EPOCH),  # naive: how asyncpg returns infinity
        ("started_at", 12, None),
        ("payload", "text", b"null"),
        ("key", 7, None),
        ("result", "r", None),
    ],
)
def test_each_unusable_field_gets_a_stand_in_and_is_named(field: str, value: Any, stand_in: Any) -> None:
    job = sound().replace(**{field: value})
    fixed = checked(job)
    assert fixed is not job and getattr(fixed, field) == stand_in
    assert fixed.defect is not None and fixed.defect.startswith(field)
    assert job_defect(fixed) == fixed.defect  # stand-ins are sound; the defect stays
    assert getattr(job, field) is value  # the input is not changed


def test_salvage_reads_field_by_field() -> None:
    raw = {"task": "t", "queue": "q", "payload": b"1", "priority": "7", "status": "pending",
           "due_at": "garbage", "attempts": 0, "max_attempts": 1, "token": 3}  # fmt: skip
    convert = {"priority": int, "status": JobStatus, "due_at": lambda v: datetime.fromtimestamp(v, UTC)}
    job = salvage(b"j9", raw, convert)
    assert (job.id, job.priority, job.status, job.due_at, job.token) == ("j9", 7, JobStatus.PENDING, EPOCH, 3)
    assert job.defect == "due_at 'garbage' cannot be read"
