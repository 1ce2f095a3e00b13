"""The leader-aware part of a process: leader election, and what only the leader runs.

With election on (the default for a store shared between processes), only the leader runs the
scheduler loop and maintenance (pruning finished jobs past their retention); followers keep
executing jobs, or, with ``leader_only_execution``, stay idle as hot standbys.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from rota.runtime.context import Role, RuntimeContext
from rota.runtime.leader import LeaderElection
from rota.runtime.lifecycle import LoopService
from rota.runtime.resilience import with_retries
from rota.runtime.scheduler import Scheduler
from rota.runtime.settings import LeaderSettings
from rota.runtime.waiting import first_of

log = logging.getLogger("rota.services")

PURGE_BATCH = 1000


class LeaderServices(LoopService):
    """Starts the election (when enabled) and the leader-only loops of one process.

    ``retention`` (seconds; None: never) is how long finished jobs are kept before the leader
    prunes them; ``schedule_lease`` (seconds; None: the election's ttl) how long a scheduler
    pass holds its schedules. ``worker``: a worker claims jobs alongside (for health reports).
    """

    def __init__(
        self,
        context: RuntimeContext,
        *,
        settings: LeaderSettings | None = None,
        scheduler: bool = True,
        retention: float | None = 7 * 86_400.0,
        maintenance_interval: float = 60.0,
        prune_schedules: bool = False,
        schedule_lease: float | timedelta | None = None,
        worker: bool = False,
    ) -> None:
        super().__init__("rota-leader-services")
        self.context = context
        self.runs_worker = worker
        self.settings = settings or context.config.leader  # resolved once, by the App
        self.retention = retention
        self.maintenance_interval = maintenance_interval
        self.election: LeaderElection | None = None
        # the schedule lease defaults to the election's ttl: with election the leader's term
        # bounds it anyway; without, a scheduler dead mid-pass holds schedules that long
        lease = self.settings.timing.ttl if schedule_lease is None else schedule_lease
        self.scheduler: Scheduler | None = (
            Scheduler(context, prune=prune_schedules, lease=lease) if scheduler else None
        )  # leadership is set in start()
        self.purged = 0
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()

    @property
    def is_leader(self) -> bool:
        """True when this process may run leader-only work (always, without an election)."""
        return self.election is None or self.election.is_leader

    @property
    def may_execute(self) -> bool:
        """Whether this process's worker should claim jobs now."""
        return not self.settings.leader_only_execution or self.is_leader

    def role(self) -> Role:
        """What this process does now (``app.health()`` while these services run)."""
        election = self.election
        return Role(
            instance_id=election.instance_id if election is not None else self.context.instance_id,
            election=election.name if election is not None else None,
            is_leader=election is not None and election.is_leader,
            executes_jobs=self.runs_worker and self.may_execute,
            fires_schedules=self.scheduler is not None and self.is_leader,
            runs_worker=self.runs_worker,
            runs_scheduler=self.scheduler is not None,
        )

    async def wait_changed(self) -> None:
        """Wait for the next change of leadership."""
        self._changed.clear()
        await self._changed.wait()

    def _on_change(self) -> None:
        self._changed.set()
        if self.scheduler is not None:
            self.scheduler.leadership_changed()

    def _request_stop(self) -> None:
        self._stop.set()
        if self.scheduler is not None:
            self.scheduler.stop()

    async def _serve(self) -> None:
        context = self.context
        loops: list[asyncio.Task[None]] = []
        try:
            await context.open()
            context.presence.running = self  # app.health() describes what runs here
            if self.settings.election_enabled(context.store):
                s = self.settings
                self.election = LeaderElection.of(
                    context, name=s.name, instance_id=s.instance_id, **s.timing.options()
                )
                self.election.on_elected(self._on_change)
                self.election.on_lost(self._on_change)
                await self.election.start()
                if self.scheduler is not None:
                    self.scheduler.leadership = self.election
            if self.scheduler is not None:
                loops.append(asyncio.create_task(self.scheduler.run(), name="rota-scheduler"))
            if self.retention is not None:
                loops.append(asyncio.create_task(self._maintain(self.retention), name="rota-maintenance"))
            self._ready()
            await self._stop.wait()
        finally:
            self._request_stop()
            for task in loops:
                if task.get_name() != "rota-scheduler":  # the scheduler ends its pass itself
                    task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            if self.election is not None:
                await self.election.stop()
            if context.presence.running is self:
                context.presence.running = None

    async def _maintain(self, retention: float) -> None:
        """Prune finished jobs older than the retention, in small batches, while leading."""
        store, clock = self.context.store, self.context.clock
        while not self._stop.is_set():
            if self.is_leader:
                cutoff = clock.now() - timedelta(seconds=retention)
                while not self._stop.is_set():
                    removed = await with_retries(
                        lambda: store.purge(finished_before=cutoff, limit=PURGE_BATCH),
                        clock=clock, what="purge", stopping=self._stop.is_set,
                    )  # fmt: skip
                    self.purged += removed
                    if removed < PURGE_BATCH:
                        break
                    await asyncio.sleep(0)  # let claims through between batches
                if self.purged:
                    log.debug("pruned %d finished jobs so far", self.purged)
            await first_of(clock.sleep(self.maintenance_interval), self._stop.wait())
