"""Bad input is refused where it is given, with a typed rota error, and nothing is written
(issue #11: defect 3's refusal side and "bad input, everywhere"). The limits are in
docs/limits.md and ``rota._limits``."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import rota
from rota import App, At, Every, JobStatus, RetryPolicy
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock

WAIT = 10

NAN, INF = math.nan, math.inf
# the documented limits (docs/limits.md), spelled out so this file runs against older code too
PRIORITY_MIN, PRIORITY_MAX = -(2**31), 2**31 - 1
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
AWARE = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
async def app(clock: FakeClock) -> AsyncIterator[App]:
    app = App(store=MemoryStore(), clock=clock, instance_id="w1")
    yield app
    await app.close()


async def nothing_written(app: App) -> None:
    assert await app.list_jobs() == []
    assert await app.schedules.list() == []


def test_the_documented_limits_are_the_enforced_ones() -> None:
    from rota import _limits

    assert (_limits.PRIORITY_MIN, _limits.PRIORITY_MAX) == (PRIORITY_MIN, PRIORITY_MAX)
    assert (_limits.EARLIEST, _limits.LATEST) == (EARLIEST, LATEST)
    longest = timedelta(days=36_525)
    assert (longest, 200) == (_limits.MAX_DURATION, _limits.MAX_NAME_LENGTH)
    assert _limits.DEFAULT_MAX_PAYLOAD_BYTES == 1024 * 1024


# -- defect 3, refusal side: the values that made poison jobs ---------------------------------


@pytest.mark.parametrize("priority", ["x", NAN, INF, 1.5, True, None.__class__, 2**31, -(2**31) - 1, 10**400])
async def test_a_task_declared_with_a_bad_priority_is_refused(app: App, priority: Any) -> None:
    with pytest.raises(rota.ConfigError, match="priority"):
        app.task(name="t", priority=priority)(lambda: None)
    assert "t" not in app.tasks
    await nothing_written(app)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base": NAN}, {"base": INF}, {"base": -1}, {"base": "1"}, {"base": True},
        {"cap": NAN}, {"cap": INF}, {"cap": timedelta(days=40_000)}, {"cap": None},
        {"attempts": True}, {"attempts": 0}, {"attempts": 2.0}, {"attempts": 10**7},
        {"jitter": "yes"}, {"jitter": 1}, {"backoff": "random"}, {"backoff": ["fixed"]},
    ],
)  # fmt: skip
def test_retry_policy_refuses_values_the_worker_could_not_schedule(kwargs: dict[str, Any]) -> None:
    with pytest.raises(rota.ConfigError):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize("after", [NAN, INF, -INF, -1, "3", True, timedelta(days=40_000), 1e300])
def test_retry_signal_refuses_a_delay_that_cannot_be_scheduled(after: Any) -> None:
    with pytest.raises(rota.ConfigError, match=r"Retry\(after=...\)"):
        rota.Retry(after=after)


def test_retry_policy_delays_stay_finite_for_every_attempt() -> None:
    policy = RetryPolicy(attempts=1_000_000, backoff="exponential", base=1e-6, cap=timedelta(days=36_525))
    for attempt in (1, 2, 1000, 1025, 999_999):
        delay = policy.delay(attempt)
        assert math.isfinite(delay)
        assert 0 <= delay <= 36_525 * 86_400


async def test_a_handler_raising_retry_with_nan_fails_its_attempt_not_the_worker(app: App) -> None:
    """Before the fix, Retry(after=nan) left the job running forever with its slot leaked."""

    @app.task(retry=RetryPolicy(attempts=2, backoff="fixed", base=0))
    async def flaky() -> None:
        raise rota.Retry(after=NAN)

    @app.task
    async def fine() -> None: ...

    bad = await flaky.enqueue()
    good = await fine.enqueue()
    async with app.worker(concurrency=1):
        await app.wait_until_idle(timeout=WAIT)
    job = await app.get_job(bad.id)
    assert job.status is JobStatus.FAILED
    assert job.attempts == 2
    assert job.last_error is not None
    assert "Retry(after=...) must be a finite number" in job.last_error
    assert (await app.get_job(good.id)).status is JobStatus.SUCCEEDED


# -- enqueue -----------------------------------------------------------------------------------


BAD_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"delay": NAN}, "delay"),
    ({"delay": INF}, "delay"),
    ({"delay": -1}, "delay"),
    ({"delay": True}, "delay"),
    ({"delay": "5"}, "delay"),
    ({"delay": 1e12}, "delay"),
    ({"delay": timedelta(days=40_000)}, "delay"),
    ({"at": datetime(2030, 1, 1)}, "no time zone"),
    ({"at": "2030-01-01"}, "at must be a datetime"),
    ({"at": 1_900_000_000}, "at must be a datetime"),
    ({"at": datetime.max.replace(tzinfo=UTC)}, "before 9999-01-01"),
    ({"at": datetime.min.replace(tzinfo=timezone(timedelta(hours=5)))}, "from 1970-01-01"),
    ({"at": datetime(1969, 12, 31, 23, 59, tzinfo=UTC)}, "from 1970-01-01"),
    ({"at": AWARE, "delay": 5}, "not both"),
    ({"priority": "x"}, "priority"),
    ({"priority": NAN}, "priority"),
    ({"priority": 1.0}, "priority"),
    ({"priority": False}, "priority"),
    ({"priority": PRIORITY_MAX + 1}, "priority"),
    ({"priority": PRIORITY_MIN - 1}, "priority"),
    ({"key": ""}, "key must not be empty"),
    ({"key": "a\x00b"}, "NUL"),
    ({"key": "k" * 201}, "at most 200"),
    ({"key": "\ud800"}, "surrogate"),
    ({"key": 7}, "key must be a string"),
    ({"queue": ""}, "queue must not be empty"),
    ({"queue": "q\x00"}, "NUL"),
    ({"queue": 3}, "queue must be a string"),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
async def test_enqueue_refuses_bad_options_and_writes_nothing(
    app: App, options: dict[str, Any], message: str
) -> None:
    @app.task(name="t")
    async def t(n: int) -> None: ...

    with pytest.raises(rota.ConfigError, match=message):
        await t.enqueue(1, **options)
    with pytest.raises(rota.ConfigError, match=message):
        t.prepare(1, **options)
    # one bad spec among good ones: the whole call is refused
    good = t.prepare(1)
    bad = rota.JobSpec(t, b"1", **options)
    with pytest.raises(rota.ConfigError, match=message):
        await app.enqueue_many([good, bad])
    await nothing_written(app)


async def test_enqueue_refuses_unknown_options_and_wrong_types(app: App) -> None:
    @app.task(name="t")
    async def t(n: int) -> None: ...

    with pytest.raises(rota.ConfigError, match="unknown enqueue option"):
        await app.enqueue("t", 1, dely=5)
    with pytest.raises(rota.ConfigError, match="Task or a task name"):
        await app.enqueue(42, 1)  # type: ignore[arg-type]
    with pytest.raises(rota.ConfigError, match="JobSpec"):
        await app.enqueue_many(["not a spec"])  # type: ignore[list-item]
    with pytest.raises(rota.ConfigError, match="encoded bytes"):
        await app.enqueue_many([rota.JobSpec(t, 1)])  # type: ignore[arg-type]
    await nothing_written(app)


async def test_values_at_the_documented_limits_are_accepted(app: App) -> None:
    @app.task(name="t")
    async def t(n: int) -> None: ...

    hi = await t.enqueue(1, priority=PRIORITY_MAX)
    lo = await t.enqueue(1, priority=PRIORITY_MIN)
    first = await t.enqueue(1, at=EARLIEST)
    last = await t.enqueue(1, at=LATEST - timedelta(microseconds=1))
    far = await t.enqueue(1, delay=timedelta(days=36_525))
    named = await t.enqueue(1, key="k" * 200, queue="q" * 200)
    assert (hi.priority, lo.priority) == (PRIORITY_MAX, PRIORITY_MIN)
    assert (first.due_at, last.due_at) == (EARLIEST, LATEST - timedelta(microseconds=1))
    assert far.due_at is not None
    assert named.key == "k" * 200


# -- payload size ------------------------------------------------------------------------------


async def test_payload_over_the_limit_is_refused_default_one_mib(clock: FakeClock) -> None:
    app = App(store=MemoryStore(), clock=clock)
    assert app.config.max_payload_bytes == 1024 * 1024

    @app.task(name="t")
    async def t(text: str) -> None: ...

    fits = "x" * (1024 * 1024 - 2)  # plus two quotes: exactly 1 MiB encoded
    await t.enqueue(fits)
    with pytest.raises(rota.PayloadError, match="over the limit of 1,048,576"):
        await t.enqueue(fits + "x")
    with pytest.raises(rota.PayloadError, match="over the limit"):
        await app.schedules.add("s", task=t, trigger=Every(60), payload=fits + "x")
    assert len(await app.list_jobs()) == 1
    assert await app.schedules.list() == []


async def test_payload_limit_is_configurable_on_the_app_and_by_environment(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = App(store=MemoryStore(), clock=clock, max_payload_bytes=10)

    @small.task(name="t")
    async def t(text: str) -> None: ...

    await t.enqueue("12345678")  # 10 bytes with its quotes
    with pytest.raises(rota.PayloadError, match="over the limit of 10"):
        await t.enqueue("123456789")
    monkeypatch.setenv("ROTA_MAX_PAYLOAD_BYTES", "2KiB")
    assert App("memory://").config.max_payload_bytes == 2048
    assert App("memory://", max_payload_bytes=100).config.max_payload_bytes == 100  # explicit wins
    monkeypatch.setenv("ROTA_MAX_PAYLOAD_BYTES", "lots")
    with pytest.raises(rota.ConfigError, match="ROTA_MAX_PAYLOAD_BYTES"):
        App("memory://")
    monkeypatch.delenv("ROTA_MAX_PAYLOAD_BYTES")
    for bad in (0, -1, True, 1.5, "1", 10**12):
        with pytest.raises(rota.ConfigError, match="max_payload_bytes"):
            App("memory://", max_payload_bytes=bad)  # type: ignore[arg-type]


# -- task declarations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "task name must not be empty"),
        ({"name": "a\x00"}, "NUL"),
        ({"name": 5}, "task name must be a string"),
        ({"queue": ""}, "queue must not be empty"),
        ({"queue": "\x00"}, "NUL"),
        ({"queue": None}, "queue must be a string"),
        ({"timeout": NAN}, "timeout"),
        ({"timeout": INF}, "timeout"),
        ({"timeout": 0}, "timeout must be positive"),
        ({"timeout": True}, "timeout"),
        ({"timeout": "3"}, "timeout"),
        ({"retry": True}, "retry must be"),
        ({"retry": 0}, "attempts"),
        ({"retry": "3"}, "retry must be"),
        ({"lock": ""}, "lock key must not be empty"),
        ({"lock": "k\x00{payload}"}, "NUL"),
    ],
)
def test_task_declaration_refuses_bad_options(app: App, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(rota.ConfigError, match=message):
        app.task(**kwargs)(lambda: None)
    assert app.tasks == {}


async def test_a_payload_that_cannot_form_the_task_lock_key_is_refused_at_enqueue(app: App) -> None:
    @app.task(name="t", lock="{payload}")
    async def t(user: str) -> None: ...

    with pytest.raises(rota.PayloadError, match="NUL"):
        await t.enqueue("a\x00b")
    with pytest.raises(rota.PayloadError, match="empty"):
        await t.enqueue("")
    with pytest.raises(rota.PayloadError, match="at most 200"):
        await t.enqueue("u" * 201)
    await nothing_written(app)


# -- triggers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((NAN,), {}, "finite"),
        ((INF,), {}, "finite"),
        ((), {"seconds": NAN}, "finite"),
        ((), {"days": INF}, "finite"),
        ((), {"days": 10**9}, "at most 100 years"),
        ((), {"weeks": 1e300}, "at most 100 years"),
        ((timedelta(days=40_000),), {}, "at most 100 years"),
        ((0.05,), {}, "at least 100ms"),
        ((), {"seconds": 1e-6}, "at least 100ms"),
        ((), {"seconds": 60, "start": datetime(10, 1, 1, tzinfo=timezone(timedelta(hours=-5)))}, "start"),
        ((), {"seconds": 60, "start": datetime.max.replace(tzinfo=UTC)}, "before 9999-01-01"),
        ((), {"seconds": 60, "start": datetime.min.replace(tzinfo=timezone(timedelta(hours=5)))}, "start"),
    ],
)
def test_every_refuses_intervals_that_cannot_fire_or_would_flood(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(rota.InvalidTrigger, match=message):
        Every(*args, **kwargs)


def test_every_accepts_its_documented_bounds() -> None:
    assert Every(0.1).period == timedelta(milliseconds=100)
    assert Every(timedelta(days=36_525)).period == timedelta(days=36_525)


@pytest.mark.parametrize(
    "when",
    [
        datetime.max.replace(tzinfo=UTC),
        datetime(9999, 6, 1, tzinfo=UTC),
        datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
        datetime(1960, 1, 1, tzinfo=UTC),
    ],
)
def test_at_refuses_an_instant_no_store_can_hold(when: datetime) -> None:
    with pytest.raises(rota.InvalidTrigger, match="one-time trigger instant"):
        At(when)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"jitter": NAN}, "jitter"),
        ({"jitter": "1"}, "jitter"),
        ({"misfire_grace": INF}, "misfire_grace"),
        ({"misfire_grace": True}, "misfire_grace"),
        ({"max_catchup": True}, "max_catchup"),
        ({"priority": "x"}, "priority"),
        ({"priority": 2**40}, "priority"),
        ({"queue": "a\x00"}, "NUL"),
    ],
)
async def test_schedules_refuse_bad_options_and_write_nothing(
    app: App, options: dict[str, Any], message: str
) -> None:
    @app.task(name="t")
    async def t() -> None: ...

    with pytest.raises(rota.ConfigError, match=message):
        await app.schedules.add("s", task=t, trigger=Every(60), **options)
    await nothing_written(app)


@pytest.mark.parametrize("schedule_id", ["", "a\x00", "x" * 201, 5])
async def test_schedule_ids_are_checked_everywhere_one_is_given(app: App, schedule_id: Any) -> None:
    @app.task(name="t")
    async def t() -> None: ...

    with pytest.raises(rota.ConfigError, match="schedule id"):
        await app.schedules.add(schedule_id, task=t, trigger=Every(60))
    for action in ("get", "pause", "resume", "remove", "trigger_now"):
        with pytest.raises(rota.ConfigError, match="schedule id"):
            await getattr(app.schedules, action)(schedule_id)
    await nothing_written(app)


# -- queries, workers, locks, settings ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": -1}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": 10**30}, "limit"),
        ({"limit": 2.5}, "limit"),
        ({"status": "finished"}, "unknown status"),
        ({"queue": "\x00"}, "NUL"),
        ({"after_id": ""}, "after_id"),
    ],
)
async def test_list_jobs_refuses_bad_filters(app: App, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(rota.ConfigError, match=message):
        await app.list_jobs(**kwargs)


@pytest.mark.parametrize("job_id", ["", "a\x00", 12])
async def test_job_ids_are_checked_before_any_store_call(app: App, job_id: Any) -> None:
    for call in (app.get_job, app.attempts, app.cancel, app.requeue):
        with pytest.raises(rota.ConfigError, match="job id"):
            await call(job_id)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lease": NAN}, "lease"),
        ({"lease": INF}, "lease"),
        ({"lease": 0.001}, "lease"),
        ({"grace": INF}, "grace"),
        ({"grace": -1}, "grace"),
        ({"grace": "10"}, "grace"),
        ({"concurrency": True}, "concurrency"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 10**6}, "concurrency"),
        ({"claim_batch": 2.0}, "claim_batch"),
        ({"sync_threads": 0}, "sync_threads"),
        ({"poll_interval": NAN}, "poll_interval"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"retention": INF}, "retention"),
        ({"retention": -5}, "retention"),
        ({"scheduler": "no"}, "scheduler"),
        ({"queues": "default"}, "queues"),
        ({"queues": []}, "queues"),
        ({"queues": ["ok", ""]}, "queue"),
        ({"queues": 5}, "queues"),
        ({"name": "two words"}, "worker name"),
        ({"leader": "yes"}, "leader"),
    ],
)
def test_worker_settings_refuse_bad_values(app: App, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(rota.ConfigError, match=message):
        app.worker(**kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("a\x00", {}, "NUL"),
        ("", {}, "non-empty"),
        ("x" * 201, {}, "at most 200"),
        ("ok", {"ttl": NAN}, "ttl"),
        ("ok", {"ttl": 1e300}, "ttl"),
        ("ok", {"ttl": True}, "ttl"),
        ("ok", {"timeout": INF}, "timeout"),
        ("ok", {"retry_interval": NAN}, "retry"),
    ],
)
def test_locks_refuse_bad_names_and_timings(
    app: App, name: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(rota.ConfigError, match=message):
        app.lock(name, **kwargs)


async def test_a_misspelt_option_is_a_config_error_not_ignored_or_a_type_error(app: App) -> None:
    """Before, ``app.task(nmae=...)``, ``task.enqueue(x, dely=5)`` and ``app.lock(tll=3)``
    raised Python's TypeError; now every keyword option is checked like the values."""

    @app.task(name="t")
    async def t(n: int) -> None: ...

    with pytest.raises(
        rota.ConfigError, match=r"unknown task option.*nmae.*known: concurrency_key, .*lock, name"
    ):
        app.task(nmae="x")
    with pytest.raises(rota.ConfigError, match=r"unknown enqueue option.*dely"):
        await t.enqueue(1, dely=5)  # type: ignore[call-arg]
    with pytest.raises(rota.ConfigError, match=r"unknown enqueue option.*dely"):
        t.prepare(1, dely=5)  # type: ignore[call-arg]
    with pytest.raises(rota.ConfigError, match=r"unknown lock 'x' option.*tll"):
        app.lock("x", tll=3)  # type: ignore[call-arg]
    with pytest.raises(rota.ConfigError, match=r"unknown leader election option.*tll"):
        app.leader_election(tll=3)  # type: ignore[call-arg]
    await nothing_written(app)


@pytest.mark.parametrize(
    "kwargs",
    [{"ttl": 1e300}, {"ttl": NAN}, {"name": "a\x00"}, {"retry_interval": INF}, {"instance_id": "a\x00"}],
)
def test_leader_settings_refuse_bad_values(kwargs: dict[str, Any]) -> None:
    from rota.runtime.settings import LeaderSettings

    with pytest.raises(rota.ConfigError):
        LeaderSettings(**kwargs)


def test_wait_until_idle_refuses_a_nan_timeout(app: App) -> None:
    import asyncio

    with pytest.raises(rota.ConfigError, match="timeout"):
        asyncio.run(app.wait_until_idle(timeout=NAN))
