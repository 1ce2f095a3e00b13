"""Leader-aware runtime: with election on, only the leader fires schedules; with
leader_only_execution, followers claim nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from rota import App, EventKind, JobStatus
from rota.runtime.settings import LeaderSettings
from rota.stores.url import store_from_url
from rota.testing import FakeClock
from tests.test_leader import WAIT, Calls, Probe, drive

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def make_app(url: str, clock: FakeClock, name: str, calls: Calls | None = None) -> App:
    store = store_from_url(url)
    app = App(
        store=Probe(store, calls).as_store() if calls is not None else store, clock=clock, instance_id=name
    )

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


# Real seconds a lease renewal takes on a slow store. With 5 ms, moving the fake clock 60 s
# in one step (as this test once did) lets it pass the leader's safety deadline while the
# renewal is still on the wire: "renewal did not complete in time", leadership moves, and
# the fires split between the two workers ([1, 2] instead of [0, 3]).
@pytest.mark.parametrize("renew_latency", [0.0, 0.005], ids=["fast", "slow-renewals"])
async def test_only_the_leader_fires_schedules(
    tmp_path: Path, clock: FakeClock, renew_latency: float
) -> None:
    url = f"sqlite:///{tmp_path / 'services.db'}"
    calls = Calls()
    apps = [make_app(url, clock, f"node-{i}", calls) for i in range(2)]
    for app in apps:
        cast("Probe", app.store).latency["renew_lease"] = renew_latency
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
            # one sleeper deadline at a time, each step waiting for the store calls it caused:
            # the fake clock must never run ahead of an answer the code still waits for
            await drive(clock, calls, 60)
            await asyncio.wait_for(done.get(), WAIT)  # that minute's fire ran on one of the workers
        await apps[0].wait_until_idle(timeout=WAIT)
        assert [w.services.is_leader for w in workers] == leaders, "leadership moved"
        health = await apps[0].health(election=workers[0].services.election)
        assert health.leader is not None and health.leader.id in {"node-0", "node-1"}
        fired = [w.services.scheduler.fired for w in workers if w.services.scheduler is not None]
        jobs = await apps[0].list_jobs()
    finally:
        for worker in workers:
            await worker.shutdown()
        for app in apps:
            await app.close()
    assert sorted(fired) == [0, 3]
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


async def test_health_inside_a_worker_describes_that_worker(apps: list[App], clock: FakeClock) -> None:
    standby = LeaderSettings(enabled=True, ttl=30, leader_only_execution=True)
    workers = [app.worker(leader=standby) for app in apps]
    for worker in workers:
        await worker.start()
    try:
        reports = [await app.health() for app in apps]
        roles = [w.services.is_leader for w in workers]
    finally:
        for worker in workers:
            await worker.shutdown()
    by_role = dict(zip(roles, reports, strict=True))
    lead, follow = by_role[True], by_role[False]
    assert (lead.is_leader, lead.executes_jobs, lead.fires_schedules) == (True, True, True)
    assert (follow.is_leader, follow.executes_jobs, follow.fires_schedules) == (False, False, False)
    assert lead.runs_worker and follow.runs_worker
    assert lead.leader is not None and lead.leader.id == lead.instance_id
    assert follow.leader == lead.leader and follow.instance_id != lead.instance_id
    # with no worker running on the app (stopped now), it executes and fires nothing
    after = await apps[0].health()
    assert (after.runs_worker, after.is_leader, after.executes_jobs, after.fires_schedules) == (
        False,
        False,
        False,
        False,
    )
