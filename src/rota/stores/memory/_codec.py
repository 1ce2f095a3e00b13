"""The memory store keeps the records themselves, so its codec is a copy: callers get
copies, never the stored objects (a caller changing a job it was handed changes nothing
stored), and a job read back passes the same soundness check as a decoded row."""

from __future__ import annotations

from rota._models import Job, Schedule
from rota.stores._salvage import checked


def copy_job(job: Job) -> Job:
    copy = job.replace()
    if copy.headers is not None:  # the one mutable field: never share it with a caller
        copy.headers = dict(copy.headers)
    return copy


def read_job(job: Job) -> Job:
    """A copy of a stored job, with ``defect`` set when it holds values no run can use (a
    direct ``Store.add`` can store them: the App refuses them)."""
    return checked(copy_job(job))


def copy_schedule(schedule: Schedule) -> Schedule:
    return schedule.replace()
