"""rota: a distributed job scheduler for Python.

Durable jobs (now, delayed, at a time), typed payloads, retries, leases with fencing tokens,
over interchangeable stores: memory, SQLite (the embedded default), PostgreSQL, Redis, MongoDB.
"""

from rota._app import App
from rota._clock import Clock, SystemClock, Timer
from rota._errors import (
    ConfigError,
    InvalidState,
    InvalidTrigger,
    JobNotFound,
    LockLost,
    NotSupported,
    PayloadError,
    RotaError,
    ScheduleNotFound,
    StoreClosed,
    StoreError,
    StoreUnavailable,
    TaskNotFound,
)
from rota._events import Event, EventKind
from rota._models import (
    Attempt,
    Fence,
    Job,
    JobStatus,
    MisfirePolicy,
    Outcome,
    OverlapPolicy,
    QueueStats,
    Schedule,
    WorkerInfo,
)
from rota._retry import RetryPolicy
from rota._schedules import ScheduleInfo, Schedules
from rota._signals import Cancel, Retry
from rota._task import EnqueueOptions, JobSpec, Task, TaskDecorator, TaskOptions
from rota._version import __version__
from rota.runtime._runs import WorkerCounters
from rota.runtime.context import RuntimeContext
from rota.runtime.health import Health, QueueDepth
from rota.runtime.jobcontext import JobContext, current_job
from rota.runtime.leader import LeaderElection, LeaderInfo
from rota.runtime.locks import Lock
from rota.runtime.scheduler import Scheduler
from rota.runtime.settings import AppConfig, LeaderSettings, LeaseOptions, LeaseTiming
from rota.runtime.worker import Worker
from rota.runtime.worker_settings import WorkerSettings
from rota.triggers import At, Cron, Every

__all__ = [
    "App",
    "AppConfig",
    "At",
    "Attempt",
    "Cancel",
    "Clock",
    "ConfigError",
    "Cron",
    "EnqueueOptions",
    "Event",
    "EventKind",
    "Every",
    "Fence",
    "Health",
    "InvalidState",
    "InvalidTrigger",
    "Job",
    "JobContext",
    "JobNotFound",
    "JobSpec",
    "JobStatus",
    "LeaderElection",
    "LeaderInfo",
    "LeaderSettings",
    "LeaseOptions",
    "LeaseTiming",
    "Lock",
    "LockLost",
    "MisfirePolicy",
    "NotSupported",
    "Outcome",
    "OverlapPolicy",
    "PayloadError",
    "QueueDepth",
    "QueueStats",
    "Retry",
    "RetryPolicy",
    "RotaError",
    "RuntimeContext",
    "Schedule",
    "ScheduleInfo",
    "ScheduleNotFound",
    "Scheduler",
    "Schedules",
    "StoreClosed",
    "StoreError",
    "StoreUnavailable",
    "SystemClock",
    "Task",
    "TaskDecorator",
    "TaskNotFound",
    "TaskOptions",
    "Timer",
    "Worker",
    "WorkerCounters",
    "WorkerInfo",
    "WorkerSettings",
    "__version__",
    "current_job",
]
