"""One lifecycle for every runtime service: ``await start()`` returns once it runs,
``stop()`` returns at once and ``await stop()`` waits for the end, ``async with`` does both;
and the services take the app's ``RuntimeContext``, not the App."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

import rota
from rota import App, JobStatus
from rota.runtime.lifecycle import LoopService, Service
from rota.runtime.services import LeaderServices
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock

T0 = datetime(2030, 1, 1, tzinfo=UTC)
WAIT = 10.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def app(clock: FakeClock) -> AsyncIterator[App]:
    app = App(store=MemoryStore(), clock=clock, instance_id="node-1")

    @app.every(minutes=1, id="tick")
    async def tick() -> None: ...

    yield app
    await app.close()


def test_every_service_has_the_one_shape(app: App) -> None:
    services = [
        app.worker(), app.scheduler(), app.leader_election(), LeaderServices(app.context),
    ]  # fmt: skip
    assert all(isinstance(s, Service) for s in services)
    assert all(isinstance(s, LoopService) for s in services[:2])
    assert all(s.context is app.context for s in (services[0], services[1], services[3]))


async def test_start_returns_once_the_scheduler_serves_and_stop_waits_for_its_end(app: App) -> None:
    scheduler = app.scheduler()
    await asyncio.wait_for(scheduler.start(), WAIT)
    # serving: the declared schedules were upserted before start() returned
    assert [s.id for s in await app.schedules.list()] == ["tick"]
    await asyncio.wait_for(scheduler.stop(), WAIT)
    assert scheduler._main is not None and scheduler._main.done()


async def test_stop_without_await_asks_and_await_stop_waits(app: App, clock: FakeClock) -> None:
    started, done = asyncio.Event(), asyncio.Event()

    @app.task(name="work")
    async def work() -> None:
        started.set()
        await clock.sleep(5)
        done.set()

    await app.tasks["work"].enqueue()
    worker = app.worker(grace=60)
    await worker.start()
    await asyncio.wait_for(started.wait(), WAIT)
    await asyncio.wait_for(clock.wait_for_deadline(T0 + timedelta(seconds=5)), WAIT)
    stopping = worker.stop()  # safe from a signal handler: returns at once
    assert worker.stopping and not done.is_set()
    await clock.advance(5)  # the running job finishes within the grace
    await asyncio.wait_for(stopping, WAIT)
    assert done.is_set() and worker.active == 0
    assert (await app.list_jobs())[0].status is JobStatus.SUCCEEDED


async def test_async_with_starts_and_stops_an_election(app: App) -> None:
    async with app.leader_election(ttl=10) as election:
        assert election.is_leader and election.running
    assert not election.running and not election.is_leader
    lease = await app.store.get_lease("leader:rota-scheduler", now=app.clock.now())
    assert lease is None  # released on the way out


async def test_an_election_stopped_without_await_resigns_in_the_background(app: App) -> None:
    election = app.leader_election(ttl=10)
    await election.start()
    stopping = election.stop()
    assert election.is_leader  # nothing has run yet: the resignation is a task
    await asyncio.wait_for(stopping, WAIT)
    assert not election.running and not election.is_leader


async def test_a_service_that_fails_to_start_raises_from_start_and_not_again_from_stop(
    clock: FakeClock,
) -> None:
    class Broken(MemoryStore):
        async def open(self) -> None:
            raise rota.ConfigError("no such database")

    app = App(store=Broken(), clock=clock)
    worker = app.worker()
    with pytest.raises(rota.ConfigError, match="no such database"):
        await worker.start()
    await asyncio.wait_for(worker.stop(), WAIT)  # does not raise it a second time


async def test_the_worker_serves_the_queues_of_the_context_tasks(app: App) -> None:
    @app.task(queue="mail")
    async def send() -> None: ...

    assert app.worker().queues == ("default", "mail") == app.context.queues
    assert app.worker(queues=["mail"]).queues == ("mail",)
