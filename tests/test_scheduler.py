"""Schedules and the scheduler loop on the memory store, driven by a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

import rota
from rota import App, JobStatus
from rota._models import schedule_key
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock
from rota.triggers import At, Cron, Every

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def app(clock: FakeClock) -> AsyncIterator[App]:
    app = App(store=MemoryStore(), clock=clock, instance_id="s1")
    yield app
    await app.close()


async def fires(app: App, schedule_id: str) -> list[datetime]:
    jobs = [j for j in await app.list_jobs(limit=10_000) if j.schedule_id == schedule_id]
    return sorted(j.fire_time for j in jobs if j.fire_time is not None)


def minutes(*ms: int, base: datetime = T0) -> list[datetime]:
    return [base + timedelta(minutes=m) for m in ms]


async def test_a_running_scheduler_fires_each_minute_exactly_once(app: App, clock: FakeClock) -> None:
    @app.cron("* * * * *", id="tick")
    async def tick() -> None: ...

    scheduler = app.scheduler()
    runner = asyncio.create_task(scheduler.run())
    await clock.wait_for_deadline(T0 + timedelta(minutes=1))
    for _ in range(3):
        await clock.advance(60)
    await clock.wait_for_deadline(T0 + timedelta(minutes=4))
    scheduler.stop()
    await runner
    assert await fires(app, "tick") == minutes(1, 2, 3)
    jobs = await app.list_jobs()
    assert {j.key for j in jobs} == {schedule_key("tick", f) for f in minutes(1, 2, 3)}
    info = await app.schedules.get("tick")
    assert info.run_count == 3 and info.last_fire_at == T0 + timedelta(minutes=3)
    assert info.next_fire_at == T0 + timedelta(minutes=4)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("skip", [9, 10]),  # only fires within the 90 s grace
        ("run_once", [10]),  # one job for all that was missed
        ("run_all", [6, 7, 8, 9, 10]),  # bounded by max_catchup=5
    ],
)
async def test_misfire_policies_after_downtime(
    app: App, clock: FakeClock, policy: str, expected: list[int]
) -> None:
    @app.task
    async def report() -> None: ...

    await app.schedules.add(
        "r", task=report, trigger=Every(minutes=1), misfire=policy, misfire_grace=90, max_catchup=5
    )
    await clock.advance(timedelta(minutes=10, seconds=30))  # no scheduler ran meanwhile
    await app.scheduler().run_once()
    assert await fires(app, "r") == minutes(*expected)
    info = await app.schedules.get("r")
    assert info.next_fire_at == T0 + timedelta(minutes=11)
    assert info.last_fire_at == T0 + timedelta(minutes=10)


async def test_overlap_skip_holds_fires_while_the_previous_job_is_unfinished(
    app: App, clock: FakeClock
) -> None:
    @app.task
    async def slow() -> None: ...

    await app.schedules.add("s", task=slow, trigger=Every(minutes=1), overlap="skip")
    scheduler = app.scheduler()
    await clock.advance(60)
    await scheduler.run_once()
    await clock.advance(60)
    await scheduler.run_once()  # the first job is still pending: skipped
    assert await fires(app, "s") == minutes(1)
    [job] = await app.list_jobs()
    claimed = await app.store.claim(
        queues=["default"], worker="w", limit=1, lease_for=timedelta(seconds=30), now=clock.now()
    )
    await app.store.finish(
        [rota._models.Finish(job.id, claimed[0].token, rota.Outcome.SUCCEEDED)], worker="w", now=clock.now()
    )
    await clock.advance(60)
    await scheduler.run_once()
    assert await fires(app, "s") == minutes(1, 3)


async def test_two_schedulers_racing_make_one_job_per_fire(app: App, clock: FakeClock) -> None:
    @app.task
    async def job() -> None: ...

    await app.schedules.add("x", task=job, trigger=Every(seconds=1))
    a, b = app.scheduler(owner="a"), app.scheduler(owner="b")
    for _ in range(50):
        await clock.advance(1)
        await asyncio.gather(a.run_once(), b.run_once())
    assert await fires(app, "x") == [T0 + timedelta(seconds=s) for s in range(1, 51)]
    assert a.fired + b.fired == 50


async def test_a_repeated_commit_of_the_same_fire_makes_no_second_job(app: App, clock: FakeClock) -> None:
    @app.task
    async def job() -> None: ...

    await app.schedules.add("x", task=job, trigger=Every(minutes=1))
    await clock.advance(60)
    scheduler = app.scheduler()
    await scheduler.run_once()
    # put the schedule back to before the fire, as a stale scheduler would see it
    info = await app.schedules.get("x")
    record = info.record.replace(next_fire_at=T0 + timedelta(minutes=1))
    await app.store.remove_schedule("x")
    await app.store.put_schedule(record, now=clock.now())
    await scheduler.run_once()
    assert await fires(app, "x") == minutes(1)


async def test_one_time_schedule_in_the_past_follows_the_misfire_policy(app: App, clock: FakeClock) -> None:
    @app.task
    async def launch() -> None: ...

    past = T0 - timedelta(hours=1)
    await app.schedules.add("late-once", task=launch, trigger=At(past), misfire="run_once")
    await app.schedules.add("late-skip", task=launch, trigger=At(past), misfire="skip", misfire_grace=60)
    await app.schedules.add("future", task=launch, trigger=At(T0 + timedelta(minutes=5)))
    scheduler = app.scheduler()
    await scheduler.run_once()
    assert await fires(app, "late-once") == [past]
    assert await fires(app, "late-skip") == []
    assert (await app.schedules.get("late-skip")).next_fire_at is None
    await clock.advance(300)
    await scheduler.run_once()
    assert await fires(app, "future") == minutes(5)
    assert (await app.schedules.get("future")).next_fire_at is None


async def test_pause_resume_remove_and_trigger_now(app: App, clock: FakeClock) -> None:
    @app.task
    async def job() -> None: ...

    await app.schedules.add("p", task=job, trigger=Every(minutes=1))
    scheduler = app.scheduler()
    await app.schedules.pause("p")
    await clock.advance(180)
    await scheduler.run_once()
    assert await fires(app, "p") == []
    info = await app.schedules.resume("p")
    assert info.next_fire_at == T0 + timedelta(minutes=4)  # missed fires while paused are not made up
    manual = await app.schedules.trigger_now("p")
    assert manual.schedule_id == "p" and manual.status is JobStatus.PENDING
    assert await app.schedules.remove("p") is True
    with pytest.raises(rota.ScheduleNotFound):
        await app.schedules.get("p")
    with pytest.raises(rota.ScheduleNotFound):
        await app.schedules.pause("p")


async def test_declared_schedules_are_upserted_without_resetting_state(clock: FakeClock) -> None:
    store = MemoryStore()

    def make_app(expr: str) -> App:
        app = App(store=store, clock=clock)

        @app.cron(expr, tz="Europe/Berlin", id="nightly")
        async def cleanup() -> None: ...

        return app

    first = make_app("0 2 * * *")
    await first.schedules.sync_declared()
    await first.schedules.pause("nightly")
    before = await first.schedules.get("nightly")
    second = make_app("0 2 * * *")
    await second.schedules.sync_declared()  # same definition: writes nothing
    after = await second.schedules.get("nightly")
    assert after.record.version == before.record.version and after.paused
    changed = make_app("30 3 * * *")
    await changed.schedules.sync_declared()
    info = await changed.schedules.get("nightly")
    assert info.paused and info.trigger == Cron("30 3 * * *", "Europe/Berlin")
    pruning = App(store=store, clock=clock)
    assert await pruning.schedules.sync_declared(prune=True) == ["nightly"]
    assert await pruning.schedules.list() == []


async def test_declared_schedules_are_in_app_schedules_without_a_scheduler(clock: FakeClock) -> None:
    store = MemoryStore()

    def make_app() -> App:
        app = App(store=store, clock=clock)

        @app.cron("0 2 * * *", tz="Europe/Berlin", id="nightly-cleanup")
        async def cleanup() -> None: ...

        return app

    first = make_app()
    paused = await first.schedules.pause("nightly-cleanup")  # no scheduler ever ran
    assert paused.paused and paused.origin == "code"
    assert [s.id for s in await first.schedules.list()] == ["nightly-cleanup"]
    resumed = await first.schedules.resume("nightly-cleanup")
    await first.schedules.pause("nightly-cleanup")
    assert resumed.next_fire_at == datetime(2030, 1, 2, 1, 0, tzinfo=UTC)  # 02:00 CET
    # another instance declaring the same schedule neither fights nor resets its state
    second = make_app()
    info = await second.schedules.get("nightly-cleanup")
    assert (
        info.paused and info.record.version == (await first.schedules.get("nightly-cleanup")).record.version
    )

    # a schedule declared after the first use is upserted on the next use
    @first.every(minutes=5, id="later")
    async def later() -> None: ...

    assert [s.id for s in await first.schedules.list()] == ["later", "nightly-cleanup"]


def test_the_schedule_lease_defaults_to_the_election_ttl_and_is_checked() -> None:
    from rota.runtime.services import LeaderServices
    from rota.runtime.settings import LeaderSettings

    app = App("memory://")
    derived = LeaderServices(app.context, settings=LeaderSettings(ttl=12)).scheduler
    assert derived is not None and derived.lease == timedelta(seconds=12)
    chosen = LeaderServices(app.context, settings=LeaderSettings(ttl=12), schedule_lease=90).scheduler
    assert chosen is not None and chosen.lease == timedelta(seconds=90)
    assert app.scheduler().lease == timedelta(seconds=30)
    assert app.scheduler(lease=timedelta(minutes=2)).lease == timedelta(minutes=2)
    for bad in (0, -1, float("nan"), float("inf"), True, "5"):
        with pytest.raises(rota.ConfigError, match="schedule lease"):
            app.scheduler(lease=bad)


async def test_bad_schedule_input_gets_clear_errors(app: App) -> None:
    @app.task
    async def job(n: int) -> None: ...

    with pytest.raises(rota.InvalidTrigger, match="minute"):
        await app.schedules.add("bad", task=job, trigger=Cron("61 * * * *"), payload=1)
    with pytest.raises(rota.PayloadError):
        await app.schedules.add("bad", task=job, trigger=Every(minutes=1), payload="not an int")
    with pytest.raises(rota.ConfigError):
        await app.schedules.add("bad", task=job, trigger=Every(minutes=1), payload=1, misfire="sometimes")
    with pytest.raises(rota.TaskNotFound):
        await app.schedules.add("bad", task="nope", trigger=Every(minutes=1))
    assert await app.schedules.list() == []


async def test_failed_fire_counts_on_the_schedule(app: App, clock: FakeClock) -> None:
    @app.cron("* * * * *", id="boom", retry=1)
    async def boom() -> None:
        raise RuntimeError("disk full")

    async with app.worker():
        await clock.wait_for_deadline(T0 + timedelta(minutes=1))
        await clock.advance(60)
        await app.wait_until_idle(timeout=10)
        info = await app.schedules.get("boom")
    assert info.run_count == 1 and info.fail_count == 1
    assert info.last_error is not None and "disk full" in info.last_error
