"""How a worker runs: validated settings (durations in seconds or ``timedelta``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from rota import _limits
from rota._errors import ConfigError
from rota.runtime.settings import LeaderSettings, check_instance_id

#: the most jobs a worker runs at once, claims at once, or threads it starts
MAX_CONCURRENCY = 10_000


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker runs. Durations are seconds (or ``timedelta``)."""

    concurrency: int = 10
    queues: Sequence[str] | None = None  # None: every queue the app's tasks use
    lease: float | timedelta = 30.0  # heartbeats renew it every lease/3
    claim_batch: int = 100  # most jobs taken in one claim
    poll_interval: float | None = None  # cross-process polling; None: the store's own hint
    grace: float | timedelta = 10.0  # on shutdown, how long running jobs may finish
    sync_threads: int | None = None  # threads for plain-def handlers; None: concurrency
    name: str | None = None  # lease owner; None: the app's instance id
    scheduler: bool = True  # also fire schedules in this process (when leader)
    prune_schedules: bool = False  # remove schedules once declared in code but not any more
    schedule_lease: float | timedelta | None = None  # how long a pass holds schedules; None: ttl
    retention: float | timedelta | None = timedelta(days=7)  # prune finished jobs older (leader)
    leader: LeaderSettings | None = None  # None: from ROTA_LEADER_ELECTION_* variables

    def __post_init__(self) -> None:
        """Every value checked against the documented limits (docs/worker.md); durations
        normalised to seconds (``retention`` to a timedelta)."""
        counts = (("concurrency", MAX_CONCURRENCY), ("claim_batch", MAX_CONCURRENCY))
        for attr, most in counts:
            _limits.integer(getattr(self, attr), attr, minimum=1, maximum=most)
        if self.sync_threads is not None:
            _limits.integer(self.sync_threads, "sync_threads", minimum=1, maximum=MAX_CONCURRENCY)
        object.__setattr__(self, "lease", _limits.duration(self.lease, "lease", minimum=0.003))
        object.__setattr__(self, "grace", _limits.duration(self.grace, "grace"))
        if self.poll_interval is not None:
            interval = _limits.duration(self.poll_interval, "poll_interval", positive=True)
            object.__setattr__(self, "poll_interval", interval)
        if self.retention is not None:
            retention = _limits.duration(self.retention, "retention", positive=True)
            object.__setattr__(self, "retention", timedelta(seconds=retention))
        for attr in ("scheduler", "prune_schedules"):
            _limits.flag(getattr(self, attr), attr)
        if self.name is not None:
            object.__setattr__(self, "name", check_instance_id(self.name, source="worker name"))
        if self.leader is not None and not isinstance(self.leader, LeaderSettings):
            raise ConfigError(f"leader must be LeaderSettings, got {type(self.leader).__name__}")
        if self.queues is not None:
            if isinstance(self.queues, str):
                raise ConfigError(f"queues must be a list of names, not the string {self.queues!r}")
            try:
                queues = tuple(self.queues)
            except TypeError:
                kind = type(self.queues).__name__
                raise ConfigError(f"queues must be a list of names, got {kind}") from None
            if not queues:
                raise ConfigError("queues must name at least one queue")
            for queue in queues:
                _limits.name(queue, "queue")
            object.__setattr__(self, "queues", queues)
