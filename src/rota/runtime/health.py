"""What ``app.health()`` and ``rota status`` report: the worker running in this process (if
any), the cluster's leader, and the queues' depths.

Never raises for an unreachable store: the report says so (``store_ok=False``, ``error``),
because a health probe that throws tells an operator less than one that answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rota._errors import StoreError
from rota._models import JobStatus, QueueStats
from rota.runtime.context import Role, RuntimeContext
from rota.runtime.leader import LEADER_PREFIX, LeaderElection, LeaderInfo
from rota.runtime.settings import LeaderSettings


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
    context: RuntimeContext,
    *,
    election: LeaderElection | None = None,
    settings: LeaderSettings | None = None,
) -> Health:
    """Report on an app (its ``context``): the worker or scheduler running on it here, the
    store's schedules, the leader (from the store's lease) and the queues' depths.

    Without arguments it describes what really runs on the app in this process (the leader
    services a worker or scheduler started; nothing when none runs). ``election`` and
    ``settings`` instead describe an instance with that election (its local view decides
    ``is_leader``) and those settings, as a worker with them would behave: a follower fires no
    schedules, and with ``leader_only_execution`` executes no jobs either.
    """
    running = context.presence.running
    if election is not None or settings is not None or running is None:
        role = supposed_role(context, election, settings, idle=election is None and settings is None)
    else:
        role = running.role()
    store, now = context.store, context.clock.now
    leader: LeaderInfo | None = None
    schedules: tuple[str, ...] = ()
    queues: dict[str, QueueDepth] = {}
    error: str | None = None
    try:
        await context.open()
        schedules = tuple(s.id for s in await store.list_schedules())
        queues = queue_depths(await store.stats(now=now()))
        if role.election is not None:
            lease = await store.get_lease(LEADER_PREFIX + role.election, now=now())
            leader = LeaderInfo.of(lease) if lease is not None else None
    except StoreError as exc:
        error = f"{type(exc).__name__}: {exc}"
    return Health(
        instance_id=role.instance_id, store=store.describe(), store_ok=error is None,
        tasks=tuple(sorted(context.tasks)), schedules=schedules,
        leader_election=role.election is not None, election=role.election, is_leader=role.is_leader,
        leader=leader, executes_jobs=role.executes_jobs, fires_schedules=role.fires_schedules,
        error=error, runs_worker=role.runs_worker, runs_scheduler=role.runs_scheduler, queues=queues,
    )  # fmt: skip


def supposed_role(
    context: RuntimeContext, election: LeaderElection | None, settings: LeaderSettings | None, *, idle: bool
) -> Role:
    """The role of an instance with ``election`` and ``settings`` (the app's when None), as a
    worker with them would behave; ``idle``: no worker or scheduler runs here, so this process
    executes and fires nothing."""
    settings = settings or context.config.leader
    enabled = election is not None or settings.election_enabled(context.store)
    is_leader = election is not None and election.is_leader
    fires = not idle and (not enabled or is_leader)
    executes = not idle and (fires if enabled and settings.leader_only_execution else True)
    return Role(
        instance_id=election.instance_id if election is not None else context.instance_id,
        election=(election.name if election is not None else settings.name) if enabled else None,
        is_leader=is_leader, executes_jobs=executes, fires_schedules=fires,
    )  # fmt: skip
