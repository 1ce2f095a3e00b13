"""Leader-aware runtime: with election on, only the leader fires schedules; with
leader_only_execution, followers claim nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rota import App, EventKind, JobStatus
from rota.runtime.settings import LeaderSettings
from rota.testing import FakeClock

T0 = datetime(2030, 1, 1, tzinfo=UTC)
WAIT = 10


def make_app(url: str, clock: FakeClock, name: str) -> App:
    app = App(url, clock=clock, instance_id=name)

    @app.cron("* * * * *", id="minutely")
    async def minutely() -> None: ...

    @app.task(name="work")
    async def work(n: int) -> None: ...

    return app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def apps(tmp_path: Path, clock: FakeClock) -> AsyncIterator[list[App]]:
    url = f"sqlite:///{tmp_path / 'services.db'}"
    apps = [make_app(url, clock, f"node-{i}") for i in range(2)]
    yield apps
    for app in apps:
        await app.close()


async def test_only_the_leader_fires_schedules(apps: list[App], clock: FakeClock) -> None:
    leader = LeaderSettings(enabled=True, ttl=30)
    done: asyncio.Queue[EventKind] = asyncio.Queue()
    for app in apps:
        app.on(EventKind.SUCCEEDED, lambda event: done.put_nowait(event.kind))
    workers = [app.worker(leader=leader) for app in apps]
    for worker in workers:
        await worker.start()
    try:
        leaders = [w.services.is_leader for w in workers]
        assert sorted(leaders) == [False, True]
        for _ in range(3):
            await clock.advance(60)
            await asyncio.wait_for(done.get(), WAIT)  # that minute's fire ran on one of the workers
        await apps[0].wait_until_idle(timeout=WAIT)
        health = await apps[0].health(election=workers[0].services.election)
        assert health.leader is not None and health.leader.id in {"node-0", "node-1"}
    finally:
        for worker in workers:
            await worker.shutdown()
    fired = [w.services.scheduler.fired for w in workers if w.services.scheduler is not None]
    assert sorted(fired) == [0, 3]
    jobs = await apps[0].list_jobs()
    assert sorted(j.fire_time for j in jobs if j.fire_time) == [T0 + timedelta(minutes=m) for m in (1, 2, 3)]


async def test_leader_only_execution_leaves_followers_idle(apps: list[App], clock: FakeClock) -> None:
    leader = LeaderSettings(enabled=True, ttl=30, leader_only_execution=True)
    workers = [app.worker(leader=leader, scheduler=False) for app in apps]
    for worker in workers:
        await worker.start()
    try:
        work = apps[0].tasks["work"]
        await apps[0].enqueue_many(work.prepare(n) for n in range(50))
        await apps[0].wait_until_idle(timeout=WAIT)
        roles = [w.services.is_leader for w in workers]
    finally:
        for worker in workers:
            await worker.shutdown()
    assert sorted(roles) == [False, True]
    assert {role: w.counters.claimed for role, w in zip(roles, workers, strict=True)} == {True: 50, False: 0}
    assert (await apps[0].stats()).counts["default"] == {JobStatus.SUCCEEDED: 50}
