"""Small builders shared by the conformance modules; every time comes from the harness clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from rota._ids import new_id
from rota._models import ErrorInfo, Finish, Job, Outcome, Schedule
from rota.stores.base import Store
from rota.testing.conformance._harness import Harness

MS = timedelta(milliseconds=1)
LEASE = timedelta(seconds=30)


def sec(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def sorted_ids(n: int) -> list[str]:
    """``n`` distinct job ids in ascending order (ids made in one millisecond are random)."""
    ids: set[str] = set()
    while len(ids) < n:
        ids.add(new_id())
    return sorted(ids)


def make_job(
    h: Harness,
    *,
    job_id: str | None = None,
    task: str = "t",
    queue: str = "default",
    priority: int = 0,
    delay: float = 0.0,
    key: str | None = None,
    max_attempts: int = 1,
    payload: bytes = b'{"n":1}',
    schedule_id: str | None = None,
    fire_time: datetime | None = None,
) -> Job:
    """A fully built pending job due ``delay`` seconds from the harness clock's now."""
    now = h.clock.now()
    return Job(
        id=job_id or new_id(),
        task=task,
        queue=queue,
        payload=payload,
        priority=priority,
        due_at=now + sec(delay),
        created_at=now,
        max_attempts=max_attempts,
        key=key,
        schedule_id=schedule_id,
        fire_time=fire_time,
    )


async def add(h: Harness, *jobs: Job) -> list[Job]:
    results = await h.store.add(list(jobs), now=h.clock.now())
    assert all(r.created for r in results)
    return [r.job for r in results]


async def claim(
    h: Harness,
    *,
    worker: str = "w1",
    limit: int = 10,
    queues: tuple[str, ...] = ("default",),
    lease_for: timedelta = LEASE,
    store: Store | None = None,
) -> list[Job]:
    return await (store or h.store).claim(
        queues=list(queues), worker=worker, limit=limit, lease_for=lease_for, now=h.clock.now()
    )


async def claim_one(
    h: Harness,
    *,
    worker: str = "w1",
    queues: tuple[str, ...] = ("default",),
    lease_for: timedelta = LEASE,
) -> Job:
    jobs = await claim(h, worker=worker, limit=1, queues=queues, lease_for=lease_for)
    assert len(jobs) == 1, jobs
    return jobs[0]


async def finish(
    h: Harness,
    job: Job,
    outcome: Outcome = Outcome.SUCCEEDED,
    *,
    worker: str = "w1",
    token: int | None = None,
    retry_at: datetime | None = None,
    error: ErrorInfo | None = None,
    result: bytes | None = None,
) -> bool:
    fin = Finish(
        job_id=job.id,
        token=job.token if token is None else token,
        outcome=outcome,
        retry_at=retry_at,
        error=error,
        result=result,
    )
    (applied,) = await h.store.finish([fin], worker=worker, now=h.clock.now())
    return applied


async def run_to_end(h: Harness, job: Job, outcome: Outcome = Outcome.SUCCEEDED) -> Job:
    """Add, claim and finish ``job`` now; returns the job as stored afterwards."""
    await add(h, job)
    claimed = await claim_one(h, queues=(job.queue,))
    assert claimed.id == job.id
    assert await finish(h, claimed, outcome)
    stored = await h.store.get_job(job.id)
    assert stored is not None
    return stored


def make_schedule(
    h: Harness,
    schedule_id: str,
    *,
    fire_in: float = 0.0,
    trigger: str = "interval:60",
    priority: int = 0,
    paused: bool = False,
) -> Schedule:
    return Schedule(
        id=schedule_id,
        task="t",
        trigger=trigger,
        priority=priority,
        next_fire_at=h.clock.now() + sec(fire_in),
        paused=paused,
    )


def without_timestamps(s: Schedule) -> Schedule:
    """A schedule with the store-kept bookkeeping times blanked, for exact comparison."""
    return s.replace(created_at=None, updated_at=None)
