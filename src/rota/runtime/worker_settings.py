"""How a worker runs: validated settings (durations in seconds or ``timedelta``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from rota._errors import ConfigError
from rota.runtime.settings import LeaderSettings


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
        if isinstance(self.retention, (int, float)):
            if self.retention <= 0:
                raise ConfigError(f"retention must be positive, got {self.retention!r}")
            object.__setattr__(self, "retention", timedelta(seconds=self.retention))
        for attr in ("lease", "grace"):
            value = getattr(self, attr)
            if isinstance(value, timedelta):
                object.__setattr__(self, attr, value.total_seconds())
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ConfigError(f"concurrency must be an integer >= 1, got {self.concurrency!r}")
        if float(self.lease) < 0.003:  # type: ignore[arg-type]
            raise ConfigError(f"lease must be at least 3 ms, got {self.lease!r}")
        if float(self.grace) < 0:  # type: ignore[arg-type]
            raise ConfigError(f"grace must not be negative, got {self.grace!r}")
        if self.claim_batch < 1:
            raise ConfigError(f"claim_batch must be >= 1, got {self.claim_batch!r}")
        if self.sync_threads is not None and self.sync_threads < 1:
            raise ConfigError(f"sync_threads must be >= 1, got {self.sync_threads!r}")
        if self.queues is not None:
            queues = tuple(self.queues)
            if not queues or not all(isinstance(q, str) and q for q in queues):
                raise ConfigError(f"queues must be non-empty names, got {self.queues!r}")
            object.__setattr__(self, "queues", queues)
