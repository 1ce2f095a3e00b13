"""rota: a distributed job scheduler for Python.

Durable jobs (now, delayed, at a time), typed payloads, retries, leases with fencing tokens,
over interchangeable stores: memory, SQLite (the embedded default), PostgreSQL, Redis, MongoDB.
"""

from rota._app import App
from rota._clock import Clock, SystemClock
from rota._errors import (
    Cancel,
    ConfigError,
    InvalidState,
    InvalidTrigger,
    JobNotFound,
    LockLost,
    NotSupported,
    PayloadError,
    Retry,
    RotaError,
    ScheduleNotFound,
    StoreError,
    StoreUnavailable,
    TaskNotFound,
)
from rota._events import Event, EventKind
from rota._models import Attempt, Job, JobStatus, Outcome, Schedule
from rota._retry import RetryPolicy
from rota._schedules import ScheduleInfo
from rota._task import JobSpec, Task
from rota.runtime.scheduler import Scheduler
from rota.runtime.worker import Worker
from rota.runtime.worker_settings import WorkerSettings
from rota.triggers import At, Cron, Every

__version__ = "0.1.0"

__all__ = [
    "App",
    "At",
    "Attempt",
    "Cancel",
    "Clock",
    "ConfigError",
    "Cron",
    "Event",
    "EventKind",
    "Every",
    "InvalidState",
    "InvalidTrigger",
    "Job",
    "JobNotFound",
    "JobSpec",
    "JobStatus",
    "LockLost",
    "NotSupported",
    "Outcome",
    "PayloadError",
    "Retry",
    "RetryPolicy",
    "RotaError",
    "Schedule",
    "ScheduleInfo",
    "ScheduleNotFound",
    "Scheduler",
    "StoreError",
    "StoreUnavailable",
    "SystemClock",
    "Task",
    "TaskNotFound",
    "Worker",
    "WorkerSettings",
    "__version__",
]
