"""The leader-aware part of a process: leader election, and what only the leader runs.

With election on (the default for a store shared between processes), only the leader runs the
scheduler loop and maintenance (pruning finished jobs past their retention); followers keep
executing jobs, or, with ``leader_only_execution``, stay idle as hot standbys.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from rota.runtime.leader import LeaderElection
from rota.runtime.resilience import with_retries
from rota.runtime.scheduler import Scheduler
from rota.runtime.settings import LeaderSettings
from rota.runtime.waiting import first_of

if TYPE_CHECKING:
    from rota._app import App

log = logging.getLogger("rota.services")

PURGE_BATCH = 1000


class LeaderServices:
    """Starts the election (when enabled) and the leader-only loops of one process."""

    def __init__(
        self,
        app: App,
        *,
        settings: LeaderSettings | None = None,
        scheduler: bool = True,
        retention: timedelta | None = timedelta(days=7),
        maintenance_interval: float = 60.0,
        prune_schedules: bool = False,
        schedule_lease: float | timedelta | None = None,
        worker: bool = False,
    ) -> None:
        self.app = app
        self.runs_worker = worker  # a worker claims jobs alongside (for health reports)
        self.settings = settings or app.config.leader  # resolved once, by the App
        self.retention = retention
        self.maintenance_interval = maintenance_interval
        self.election: LeaderElection | None = None
        # the schedule lease defaults to the election's ttl: with election the leader's term
        # bounds it anyway; without, a scheduler dead mid-pass holds schedules that long
        lease = self.settings.timing.ttl if schedule_lease is None else schedule_lease
        self.scheduler: Scheduler | None = (
            Scheduler(app, prune=prune_schedules, lease=lease) if scheduler else None
        )  # leadership is set in start()
        self.purged = 0
        self._changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def is_leader(self) -> bool:
        """True when this process may run leader-only work (always, without an election)."""
        return self.election is None or self.election.is_leader

    @property
    def may_execute(self) -> bool:
        """Whether this process's worker should claim jobs now."""
        return not self.settings.leader_only_execution or self.is_leader

    async def wait_changed(self) -> None:
        """Wait for the next change of leadership."""
        self._changed.clear()
        await self._changed.wait()

    def _on_change(self) -> None:
        self._changed.set()
        if self.scheduler is not None:
            self.scheduler.leadership_changed()

    async def start(self) -> None:
        await self.app.open()
        self.app.services = self  # app.health() describes what runs here
        if self.settings.election_enabled(self.app.store):
            self.election = LeaderElection.from_settings(
                self.app.store, self.app.clock, self.settings, instance_id=self.app.instance_id,
                opener=self.app.open,
            )  # fmt: skip
            self.election.on_elected(self._on_change)
            self.election.on_lost(self._on_change)
            await self.election.start()
            if self.scheduler is not None:
                self.scheduler.leadership = self.election
        if self.scheduler is not None:
            self._tasks.append(asyncio.create_task(self.scheduler.run(), name="rota-scheduler"))
        if self.retention is not None:
            self._tasks.append(asyncio.create_task(self._maintain(), name="rota-maintenance"))

    async def stop(self) -> None:
        self._stop.set()
        if self.scheduler is not None:
            self.scheduler.stop()
        for task in self._tasks:
            if task.get_name() != "rota-scheduler":
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.election is not None:
            await self.election.stop()
        if self.app.services is self:
            self.app.services = None

    async def _maintain(self) -> None:
        """Prune finished jobs older than the retention, in small batches, while leading."""
        assert self.retention is not None
        store = self.app.store
        while not self._stop.is_set():
            if self.is_leader:
                cutoff = self.app.clock.now() - self.retention
                while not self._stop.is_set():
                    removed = await with_retries(
                        lambda: store.purge(finished_before=cutoff, limit=PURGE_BATCH),
                        clock=self.app.clock, what="purge", stopping=self._stop.is_set,
                    )  # fmt: skip
                    self.purged += removed
                    if removed < PURGE_BATCH:
                        break
                    await asyncio.sleep(0)  # let claims through between batches
                if self.purged:
                    log.debug("pruned %d finished jobs so far", self.purged)
            await first_of(self.app.clock.sleep(self.maintenance_interval), self._stop.wait())
