"""How a worker runs: validated settings; durations given in seconds or as ``timedelta`` and
kept as seconds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from rota import _limits
from rota._convert import freeze
from rota._errors import ConfigError
from rota.runtime.settings import LeaderSettings, check_instance_id

#: the most jobs a worker runs at once, claims at once, or threads it starts
MAX_CONCURRENCY = 10_000
#: ``concurrency`` left unset: jobs at once when every task the worker serves is ``async``
#: (they wait on the event loop, where a waiting job costs a few kilobytes, not a thread),
#: and when any is a plain ``def`` (each running job holds a thread). Measured in
#: docs/benchmarks.md: 250 ran 1.3x-3.7x the jobs/s of 10 with a handler making one Redis call.
ASYNC_CONCURRENCY = 250
SYNC_CONCURRENCY = 10
DEFAULT_RETENTION = 7 * 86_400.0


@dataclass(frozen=True, init=False)
class WorkerSettings:
    """How a worker runs; every value is checked against the documented limits
    (docs/worker.md) and durations are kept in seconds.

    ``concurrency``: jobs run at once (None: ``ASYNC_CONCURRENCY`` when every task the
    worker serves is ``async``, else ``SYNC_CONCURRENCY``; see ``resolve_concurrency``).
    ``queues``: the queues served (None: every queue of the app's tasks). ``lease``: a claimed
    job's lease, renewed every lease/3. ``claim_batch``: the most jobs taken in one claim
    (None: as many as there are free slots). ``poll_interval``: how often to look for work
    other processes added (None: the store's own hint). ``grace``: on shutdown, how long
    running jobs may finish. ``sync_threads``: threads for plain ``def`` handlers (None: ``concurrency``).
    ``name``: the lease owner (None: the app's instance id). ``scheduler``: also fire schedules
    in this process (when leader). ``prune_schedules``: remove schedules once declared in code
    but not any more. ``schedule_lease``: how long a scheduler pass holds its schedules (None:
    the election's ttl). ``retention``: the leader prunes finished jobs older than this (None:
    never). ``leader``: election settings (None: the app's, from ``ROTA_LEADER_ELECTION_*``).
    """

    concurrency: int | None
    queues: tuple[str, ...] | None
    lease: float
    claim_batch: int | None
    poll_interval: float | None
    grace: float
    sync_threads: int | None
    name: str | None
    scheduler: bool
    prune_schedules: bool
    schedule_lease: float | None
    retention: float | None
    leader: LeaderSettings | None

    def __init__(
        self,
        *,
        concurrency: int | None = None,
        queues: Sequence[str] | None = None,
        lease: float | timedelta = 30.0,
        claim_batch: int | None = None,
        poll_interval: float | timedelta | None = None,
        grace: float | timedelta = 10.0,
        sync_threads: int | None = None,
        name: str | None = None,
        scheduler: bool = True,
        prune_schedules: bool = False,
        schedule_lease: float | timedelta | None = None,
        retention: float | timedelta | None = DEFAULT_RETENTION,
        leader: LeaderSettings | None = None,
    ) -> None:
        for attr, count in (
            ("concurrency", concurrency), ("claim_batch", claim_batch), ("sync_threads", sync_threads)
        ):  # fmt: skip
            if count is not None:
                _limits.integer(count, attr, minimum=1, maximum=MAX_CONCURRENCY)
        for attr, switch in (("scheduler", scheduler), ("prune_schedules", prune_schedules)):
            _limits.flag(switch, attr)
        if leader is not None and not isinstance(leader, LeaderSettings):
            raise ConfigError(f"leader must be LeaderSettings, got {type(leader).__name__}")
        freeze(
            self,
            concurrency=concurrency,
            queues=None if queues is None else _queues(queues),
            lease=_limits.duration(lease, "lease", minimum=0.003),
            claim_batch=claim_batch,
            poll_interval=_positive(poll_interval, "poll_interval"),
            grace=_limits.duration(grace, "grace"),
            sync_threads=sync_threads,
            name=None if name is None else check_instance_id(name, source="worker name"),
            scheduler=scheduler,
            prune_schedules=prune_schedules,
            schedule_lease=_positive(schedule_lease, "schedule_lease"),
            retention=_positive(retention, "retention"),
            leader=leader,
        )


def _positive(value: float | timedelta | None, what: str) -> float | None:
    return None if value is None else _limits.duration(value, what, positive=True)


def _queues(queues: Sequence[str]) -> tuple[str, ...]:
    if isinstance(queues, str):
        raise ConfigError(f"queues must be a list of names, not the string {queues!r}")
    try:
        names = tuple(queues)
    except TypeError:
        raise ConfigError(f"queues must be a list of names, got {type(queues).__name__}") from None
    if not names:
        raise ConfigError("queues must name at least one queue")
    for queue in names:
        _limits.name(queue, "queue")
    return names


def resolve_concurrency(settings: WorkerSettings, served_async: Iterable[bool]) -> int:
    """The jobs a worker runs at once: ``settings.concurrency``, or when unset
    ``ASYNC_CONCURRENCY`` if every task it serves is ``async`` (``served_async``: one flag
    per task), else ``SYNC_CONCURRENCY``."""
    if settings.concurrency is not None:
        return settings.concurrency
    return ASYNC_CONCURRENCY if all(served_async) else SYNC_CONCURRENCY
