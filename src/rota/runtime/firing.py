"""Which fires a scheduler pass materialises: misfire, catch-up, overlap and jitter rules.

Pure: given a schedule, its trigger and ``now``, returns the fire times to turn into jobs and
the next fire time. The scheduler does the I/O.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from rota._ids import new_id
from rota._models import Job, MisfirePolicy, Schedule, schedule_key
from rota._retry import DEFAULT_RETRY
from rota.runtime.context import Handler
from rota.triggers import Trigger

# A schedule that missed more fires than this is not walked fire by fire: only the most
# recent ones matter to any policy, and walking a week of one-second fires would stall.
_WALK_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class FirePlan:
    fires: tuple[datetime, ...]  # fire times to create jobs for, oldest first
    missed: int  # due fires dropped by the misfire policy (or skipped for overlap)
    next_fire_at: datetime | None
    last_fire_at: datetime | None  # the latest due fire time this pass consumed


def plan_fires(
    schedule: Schedule, trigger: Trigger, now: datetime, *, previous_running: bool = False
) -> FirePlan:
    """Decide one pass for a schedule whose ``next_fire_at <= now``.

    Due fires are ``next_fire_at`` and every later fire up to ``now``. A fire is on time when
    ``now - fire <= misfire_grace``. Then:

    * ``skip``: only on-time fires run;
    * ``run_once``: one job, for the latest due fire, however many were missed;
    * ``run_all``: every due fire runs, the most recent ``max_catchup`` of them.

    With overlap ``skip`` and the previous fire's job still pending or running, nothing runs.
    The next fire is the trigger's first fire strictly after ``now``.
    """
    first = schedule.next_fire_at
    if first is None or first > now:
        return FirePlan((), 0, first, schedule.last_fire_at)
    due: list[datetime] = []
    walked = 0
    fire: datetime | None = first
    while fire is not None and fire <= now and walked < _WALK_LIMIT:
        due.append(fire)
        walked += 1
        fire = trigger.next_fire(fire)
    if fire is not None and fire <= now:
        # too many missed fires to list: jump, keeping the most recent one as due
        latest = _latest_at_or_before(trigger, now, due[-1])
        if latest is not None and latest != due[-1]:
            due.append(latest)
        fire = trigger.next_fire(now)
    next_fire_at = fire
    grace = timedelta(seconds=schedule.misfire_grace)
    if previous_running and schedule.overlap == "skip":
        return FirePlan((), len(due), next_fire_at, due[-1])
    policy = MisfirePolicy(schedule.misfire)
    if policy is MisfirePolicy.SKIP:
        chosen = [f for f in due if now - f <= grace]
    elif policy is MisfirePolicy.RUN_ONCE:
        chosen = due[-1:]
    else:
        chosen = due[-max(1, schedule.max_catchup) :]
    return FirePlan(tuple(chosen), len(due) - len(chosen), next_fire_at, due[-1])


def _latest_at_or_before(trigger: Trigger, now: datetime, known: datetime) -> datetime | None:
    """The latest fire <= now, searching back from now in growing windows (rare path)."""
    span = timedelta(seconds=1)
    while now - span > known:
        candidate = trigger.next_fire(now - span)
        if candidate is not None and candidate <= now:
            latest = candidate
            while (following := trigger.next_fire(latest)) is not None and following <= now:
                latest = following
            return latest
        span *= 2
    return known


def schedule_job(
    schedule: Schedule, task: Handler | None, *, now: datetime, due: datetime, fire: datetime | None
) -> Job:
    """The job of one fire (keyed ``(schedule_id, fire_time)``, so the store keeps it unique)
    or, with ``fire=None``, of a manual trigger (no key). Attempts and timeout come from the
    task when this process knows it, else the defaults."""
    return Job(
        id=new_id(), task=schedule.task, queue=schedule.queue, payload=schedule.payload,
        priority=schedule.priority, due_at=due, created_at=now,
        max_attempts=(task.retry if task is not None else DEFAULT_RETRY).attempts,
        timeout=task.timeout if task is not None else None,
        key=schedule_key(schedule.id, fire) if fire is not None else None,
        schedule_id=schedule.id, fire_time=fire,
    )  # fmt: skip


def jittered(fire: datetime, jitter: float, rng: random.Random) -> datetime:
    """The due time of a fire's job: the fire time, or up to ``jitter`` seconds later."""
    if jitter <= 0:
        return fire
    return fire + timedelta(seconds=rng.uniform(0.0, jitter))
