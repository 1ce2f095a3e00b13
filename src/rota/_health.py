"""What ``app.health()`` and ``rota status`` report: the worker running in this process (if
any), the cluster's leader, and the queues' depths.

Never raises for an unreachable store: the report says so (``store_ok=False``, ``error``),
because a health probe that throws tells an operator less than one that answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rota._errors import StoreError
from rota._models import JobStatus, QueueStats
from rota.runtime.leader import LEADER_PREFIX, LeaderElection, LeaderInfo
from rota.runtime.settings import LeaderSettings

if TYPE_CHECKING:
    from rota._app import App


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """One queue's jobs by state. ``pending`` are due now (waiting for a worker); ``delayed``
    are pending but due later (a retry's backoff, ``delay=``, a jittered fire)."""

    pending: int = 0
    delayed: int = 0
    running: int = 0
    failed: int = 0
    succeeded: int = 0
    cancelled: int = 0


def queue_depths(stats: QueueStats) -> dict[str, QueueDepth]:
    """Per queue, from ``Store.stats(now=...)``, by queue name."""
    out: dict[str, QueueDepth] = {}
    for queue in sorted(stats.counts):
        counts = stats.counts[queue]
        delayed = stats.delayed.get(queue, 0)
        out[queue] = QueueDepth(
            pending=counts.get(JobStatus.PENDING, 0) - delayed,
            delayed=delayed,
            running=counts.get(JobStatus.RUNNING, 0),
            failed=counts.get(JobStatus.FAILED, 0),
            succeeded=counts.get(JobStatus.SUCCEEDED, 0),
            cancelled=counts.get(JobStatus.CANCELLED, 0),
        )
    return out


@dataclass(frozen=True, slots=True)
class Health:
    """A snapshot of this process's role, the cluster's leader and the queues.

    The role fields describe what runs here: ``runs_worker`` / ``runs_scheduler`` (a worker
    or scheduler started on this app in this process), ``is_leader`` (its election's local
    view), ``executes_jobs`` (its worker claims jobs now: False for a follower with
    ``leader_only_execution``) and ``fires_schedules`` (its scheduler fires now: the leader,
    or any scheduler when election is off). A process that runs neither executes and fires
    nothing (``rota status`` itself, a web process that only enqueues).
    """

    instance_id: str
    store: str  # the store's description (no passwords)
    store_ok: bool
    tasks: tuple[str, ...]
    schedules: tuple[str, ...]  # ids of the schedules in the store (empty when unreachable)
    leader_election: bool  # whether an election runs (here, or would run for a worker here)
    election: str | None  # its name
    is_leader: bool  # local view: leading and within the safety deadline
    leader: LeaderInfo | None  # who leads according to the store
    executes_jobs: bool
    fires_schedules: bool
    error: str | None = None
    runs_worker: bool = False
    runs_scheduler: bool = False
    queues: Mapping[str, QueueDepth] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (datetimes as ISO strings), for ``rota status --json``."""
        data = asdict(self)
        if self.leader is not None:
            data["leader"] = {
                "id": self.leader.id,
                "host": self.leader.host,
                "since": self.leader.since.isoformat(),
                "token": self.leader.token,
                "expires_at": self.leader.expires_at.isoformat(),
            }
        data["tasks"] = list(self.tasks)
        data["schedules"] = list(self.schedules)
        data["queues"] = {q: asdict(d) for q, d in self.queues.items()}
        return data


async def health(
    app: App,
    *,
    election: LeaderElection | None = None,
    settings: LeaderSettings | None = None,
) -> Health:
    """Report on ``app``: the worker or scheduler running on it here, the store's schedules,
    the leader (from the store's lease) and the queues' depths.

    Without arguments it describes what really runs on ``app`` in this process (the leader
    services a worker or scheduler started; nothing when none runs). ``election`` and
    ``settings`` instead describe an instance with that election (its local view decides
    ``is_leader``) and those settings, as a worker with them would behave: a follower fires no
    schedules, and with ``leader_only_execution`` executes no jobs either.
    """
    explicit = election is not None or settings is not None
    services = None if explicit else app.services
    if services is not None:
        election, settings = services.election, services.settings
    settings = settings or app.config.leader
    store = app.store
    if services is not None:
        enabled = election is not None
    else:
        enabled = election is not None or settings.election_enabled(store)
    name = election.name if election is not None else settings.name
    is_leader = election.is_leader if election is not None else False
    if services is not None:
        executes = services.runs_worker and services.may_execute
        fires = services.scheduler is not None and services.is_leader
    elif explicit:
        fires = not enabled or is_leader
        executes = fires if enabled and settings.leader_only_execution else True
    else:  # no worker or scheduler runs here: this process executes and fires nothing
        executes = fires = False
    leader: LeaderInfo | None = None
    schedules: tuple[str, ...] = ()
    queues: dict[str, QueueDepth] = {}
    error: str | None = None
    try:
        await app.open()
        schedules = tuple(s.id for s in await store.list_schedules())
        queues = queue_depths(await store.stats(now=app.clock.now()))
        if enabled:
            lease = await store.get_lease(LEADER_PREFIX + name, now=app.clock.now())
            leader = LeaderInfo.of(lease) if lease is not None else None
    except StoreError as exc:
        error = f"{type(exc).__name__}: {exc}"
    return Health(
        instance_id=election.instance_id if election is not None else app.instance_id,
        store=store.describe(),
        store_ok=error is None,
        tasks=tuple(sorted(app.tasks)),
        schedules=schedules,
        leader_election=enabled,
        election=name if enabled else None,
        is_leader=is_leader,
        leader=leader,
        executes_jobs=executes,
        fires_schedules=fires,
        error=error,
        runs_worker=services is not None and services.runs_worker,
        runs_scheduler=services is not None and services.scheduler is not None,
        queues=queues,
    )
