"""What ``app.health()`` and ``rota status`` report about this instance and the cluster.

Never raises for an unreachable store: the report says so (``store_ok=False``, ``error``),
because a health probe that throws tells an operator less than one that answers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from rota._errors import StoreError
from rota.runtime.leader import LEADER_PREFIX, LeaderElection, LeaderInfo
from rota.runtime.settings import LeaderSettings

if TYPE_CHECKING:
    from rota._app import App


@dataclass(frozen=True, slots=True)
class Health:
    """A snapshot of one instance's role and the cluster's leader."""

    instance_id: str
    store: str  # the store's description (no passwords)
    store_ok: bool
    tasks: tuple[str, ...]
    schedules: tuple[str, ...]  # ids of the schedules in the store (empty when unreachable)
    leader_election: bool  # whether this instance takes part in an election
    election: str | None  # its name
    is_leader: bool  # local view: leading and within the safety deadline
    leader: LeaderInfo | None  # who leads according to the store
    executes_jobs: bool  # a worker here would claim jobs now
    fires_schedules: bool  # a scheduler here would fire schedules now
    error: str | None = None

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
        return data


async def health(
    app: App,
    *,
    election: LeaderElection | None = None,
    settings: LeaderSettings | None = None,
) -> Health:
    """Report on ``app``: its tasks, the store's schedules, this instance's id and role.

    ``election``: the running election of this process, if any (its local view decides
    ``is_leader``). Without one, ``settings`` (default: the app's, resolved once) tell whether an
    election would run, and the leader is read from the store.
    A follower fires no schedules; with ``leader_only_execution`` it executes no jobs either.
    """
    settings = settings or app.config.leader
    store = app.store
    enabled = election is not None or settings.election_enabled(store)
    name = election.name if election is not None else settings.name
    is_leader = election.is_leader if election is not None else False
    leader: LeaderInfo | None = None
    schedules: tuple[str, ...] = ()
    error: str | None = None
    try:
        await app.open()
        schedules = tuple(s.id for s in await store.list_schedules())
        if enabled:
            lease = await store.get_lease(LEADER_PREFIX + name, now=app.clock.now())
            leader = LeaderInfo.of(lease) if lease is not None else None
    except StoreError as exc:
        error = f"{type(exc).__name__}: {exc}"
    fires = not enabled or is_leader
    executes = fires if enabled and settings.leader_only_execution else True
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
    )
