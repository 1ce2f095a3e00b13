"""The scheduler loop: sleeps until the earliest fire, then turns due fires into jobs.

Exactly one job per fire holds however many schedulers run: a schedule is leased before a
pass (so usually one scheduler handles it), the pass commits conditionally on the schedule's
version, and each fire's job carries the key ``(schedule_id, fire_time)``, which the store
keeps unique. With leader election, only the leader runs passes, and both its acquires and its
commits carry its fence: a paused ex-leader cannot write after its successor started, and the
successor takes over at once the schedules a dead leader's pass still held (their leases are
bound to the dead leader's term) instead of waiting for those leases to expire.

The schedule lease (``lease``) bounds how long a pass may hold schedules: it only matters
without election (a scheduler that died mid-pass delays those schedules by at most that
long). It defaults to the election's ttl (``ROTA_LEADER_ELECTION_TTL``, 30 s), the same
"how long until a silent process counts as dead" as everywhere else.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from rota._convert import seconds
from rota._errors import ConfigError, InvalidTrigger
from rota._models import FINAL_STATUSES, Fence, FireCommit, Job, Schedule
from rota.runtime.context import RuntimeContext
from rota.runtime.firing import jittered, plan_fires, schedule_job
from rota.runtime.lifecycle import LoopService
from rota.runtime.resilience import until_stopped
from rota.runtime.settings import DEFAULT_TTL
from rota.runtime.waiting import first_of
from rota.triggers import load_trigger

log = logging.getLogger("rota.scheduler")
T = TypeVar("T")


class Leadership(Protocol):
    """What the scheduler needs from a leader election."""

    @property
    def is_leader(self) -> bool: ...
    @property
    def fence(self) -> Fence | None: ...


class Scheduler(LoopService):
    """Fires an app's schedules. Run it alone (``rota scheduler``) or inside a worker; it first
    upserts the schedules declared in code (removing those no longer declared with ``prune``).
    ``app.scheduler(...)`` builds one for an app."""

    def __init__(
        self,
        context: RuntimeContext,
        *,
        leadership: Leadership | None = None,
        batch: int = 100,
        lease: float | timedelta | None = None,
        poll_interval: float | None = None,
        prune: bool = False,
        owner: str | None = None,
    ) -> None:
        super().__init__("rota-scheduler")
        self.context = context
        self.clock = context.clock
        self.leadership = leadership
        self.batch = batch
        lease_s = DEFAULT_TTL if lease is None else seconds(lease, "schedule lease")
        if lease_s <= 0:
            raise ConfigError(f"schedule lease must be positive, got {lease_s:g}s")
        self.lease = timedelta(seconds=lease_s)
        self.poll_interval = poll_interval
        self.prune = prune
        self.owner = owner or f"{context.instance_id}/scheduler"
        self.rng = random.Random()
        self.fired = 0  # jobs this scheduler created
        self.passes = 0
        self._stop = asyncio.Event()
        self._stopping = False
        self._leadership_changed = asyncio.Event()

    def _request_stop(self) -> None:
        self._stopping = True
        self._stop.set()

    def leadership_changed(self) -> None:
        """Wake the loop (called by the election's callbacks)."""
        self._leadership_changed.set()

    async def _serve(self) -> None:
        context = self.context
        await context.open()
        store = context.store
        await self._call(
            lambda: context.declared.sync(store, self.clock, prune=self.prune), "sync declared schedules"
        )
        self._ready()
        while not self._stopping:
            if self.leadership is not None and not self.leadership.is_leader:
                self._leadership_changed.clear()
                await self._first(self._leadership_changed.wait(), self.clock.sleep(1.0))
                continue
            handled = await self.run_once()
            if handled is None or handled >= self.batch:
                continue
            due = await self._call(store.next_schedule_due, "next_schedule_due")
            poll = self.poll_interval if self.poll_interval is not None else max(store.poll_interval, 1.0)
            waits: list[Awaitable[object]] = [store.wait_for_schedules(poll)]
            if self.leadership is not None:
                self._leadership_changed.clear()
                waits.append(self._leadership_changed.wait())
            if due is not None:
                waits.append(self.clock.sleep((due - self.clock.now()).total_seconds()))
            await self._first(*waits)

    async def run_once(self) -> int | None:
        """One pass: acquire due schedules and commit their fires. Returns how many were
        acquired (None when interrupted by shutdown)."""
        store = self.context.store
        now = self.clock.now()

        async def acquire() -> list[Schedule]:
            fence = None
            if self.leadership is not None:
                fence = self.leadership.fence
                if fence is None:
                    return []  # not (or no longer) leading: passes are the leader's
            return await store.acquire_schedules(
                owner=self.owner, limit=self.batch, lease_for=self.lease, now=now, fence=fence
            )

        acquired = await self._call(acquire, "acquire_schedules")
        if acquired is None:
            return None
        self.passes += 1
        for schedule in acquired:
            await self._fire(schedule, now)
        return len(acquired)

    async def _fire(self, schedule: Schedule, now: datetime) -> None:
        try:
            trigger = load_trigger(schedule.trigger)
        except InvalidTrigger as exc:
            log.error("schedule %s has an unreadable trigger (%s); leaving it", schedule.id, exc)
            return
        previous_running = False
        if schedule.overlap == "skip" and schedule.last_job_id:
            last_id = schedule.last_job_id
            last = await self._call(lambda: self.context.store.get_job(last_id), "get_job")
            previous_running = last is not None and last.status not in FINAL_STATUSES
        plan = plan_fires(schedule, trigger, now, previous_running=previous_running)
        jobs = tuple(self._job(schedule, fire, now) for fire in plan.fires)
        fence = self.leadership.fence if self.leadership is not None else None
        if self.leadership is not None and fence is None:
            return  # lost leadership mid-pass; the next leader's term takes the schedule over
        commit = FireCommit(
            schedule_id=schedule.id, version=schedule.version, owner=self.owner, jobs=jobs,
            next_fire_at=plan.next_fire_at, last_fire_at=plan.last_fire_at, fence=fence,
        )  # fmt: skip
        ok = await self._call(lambda: self.context.store.commit_fires(commit, now=now), "commit_fires")
        if ok:
            self.fired += len(jobs)
            if plan.missed:
                log.info(
                    "schedule %s: %d missed fire(s) dropped by policy %s",
                    schedule.id,
                    plan.missed,
                    schedule.misfire,
                )
        else:
            log.info(
                "schedule %s changed or was taken during the pass; its fires were not committed", schedule.id
            )

    def _job(self, schedule: Schedule, fire: datetime, now: datetime) -> Job:
        due = jittered(fire, schedule.jitter, self.rng)
        return schedule_job(schedule, self.context.tasks.get(schedule.task), now=now, due=due, fire=fire)

    async def _call(self, call: Callable[[], Awaitable[T]], what: str) -> T | None:
        """A store call retried through outages; None once stopping interrupted it."""
        return await until_stopped(
            call, clock=self.clock, what=what, stopping=lambda: self._stopping, interrupt=self._stop,
            wake=self.context.store.wait_reconnected,
        )  # fmt: skip

    async def _first(self, *awaitables: Awaitable[object]) -> None:
        """Wait for the first of ``awaitables`` or for stop()."""
        await first_of(*awaitables, self._stop.wait())
