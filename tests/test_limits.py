"""Rate and concurrency limits as a task declares them (``rota._limits_spec``), the job fields
they give at enqueue, and a worker held to them (memory store, fake clock). The store side of
the contract, on every store, is the conformance suite's ``jobs_limited``."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple, TypedDict

import pytest

import rota
from rota import App, EventKind, JobStatus
from rota._limits_spec import Rate, TaskLimits, parse_rate
from rota.testing import FakeClock

WAIT = 10  # real seconds a test may wait for an event before it fails (never slept)


@dataclass
class Call:
    account_id: int
    tenant: str = "t1"


class Order(TypedDict):
    account_id: int


class Point(NamedTuple):
    x: int


# -- declaring limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "period"),
    [
        ("100/s", 100, 1.0),
        ("10/m", 10, 60.0),
        ("5/h", 5, 3600.0),
        ("1/d", 1, 86_400.0),
        (" 7 / second ", 7, 1.0),
        ("2/minutes", 2, 60.0),
        ("5/10s", 5, 10.0),
        ("3/1m30s", 3, 90.0),
        ("1/500ms", 1, 0.5),
        ("1000000/s", 1_000_000, 1.0),
        ("1/7d", 1, 7 * 86_400.0),
    ],
)
def test_rate_limits_are_read_as_count_per_period(text: str, count: int, period: float) -> None:
    assert parse_rate(text) == Rate(count, period)


@pytest.mark.parametrize(
    "bad",
    [
        "0/s", "-1/s", "+1/s", "abc", "nan/s", "inf/s", "1.5/s", "1e3/s", "10", "10/", "/s", "10/xyz",
        "10/0s", "10/nan", "10/-1s", "1/8d", "1/0.5ms", "2000000/s", "1000000001/d", "", "\uff11\uff10/s",
        True, False, 5, 5.0, math.nan, b"10/s", ["10/s"], (10, 1),
    ],
)  # fmt: skip
def test_nonsense_rate_limits_are_refused_at_declaration(app: App, bad: object) -> None:
    with pytest.raises(rota.ConfigError, match="rate_limit"):

        @app.task(rate_limit=bad)  # type: ignore[arg-type]
        async def call(c: Call) -> None: ...

    assert app.tasks == {}


@pytest.mark.parametrize("bad", [0, -1, True, False, 1.5, math.nan, math.inf, "3", 10**6 + 1, 10**100])
def test_nonsense_concurrency_limits_are_refused_at_declaration(app: App, bad: object) -> None:
    with pytest.raises(rota.ConfigError, match="concurrency_limit"):

        @app.task(concurrency_limit=bad)  # type: ignore[arg-type]
        async def call(c: Call) -> None: ...


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"concurrency_key": "{account_id}"}, "needs a concurrency_limit"),
        ({"rate_key": "{tenant}"}, "needs a rate_limit"),
        ({"concurrency_limit": 1, "concurrency_key": "{missing}"}, "does not have"),
        ({"rate_limit": "1/s", "rate_key": "{account.id}"}, "may only name payload fields"),
        ({"concurrency_limit": 1, "concurrency_key": "{0}"}, "may only name payload fields"),
        ({"concurrency_limit": 1, "concurrency_key": "{}"}, "may only name payload fields"),
        ({"concurrency_limit": 1, "concurrency_key": "{account_id"}, "not a valid template"),
        ({"concurrency_limit": 1, "concurrency_key": "{account_id:{tenant}}"}, "format spec"),
        ({"concurrency_limit": 1, "concurrency_key": ""}, "must not be empty"),
        ({"concurrency_limit": 1, "concurrency_key": "x" * 201}, "at most 200"),
        ({"concurrency_limit": 1, "concurrency_key": "a\x00b"}, "NUL"),
        ({"concurrency_limit": 1, "concurrency_key": 42}, "must be a string"),
        ({"concurrency_limt": 1}, "unknown task option"),
    ],
)
def test_key_templates_are_checked_at_declaration(app: App, options: dict[str, Any], match: str) -> None:
    with pytest.raises(rota.ConfigError, match=match):

        @app.task(**options)
        async def call(c: Call) -> None: ...


@pytest.mark.parametrize("payload_type", [Call, Order, Point])
def test_a_template_naming_a_field_the_payload_type_lacks_is_refused(app: App, payload_type: type) -> None:
    async def handler(payload: Any) -> None: ...

    handler.__annotations__["payload"] = payload_type
    with pytest.raises(rota.ConfigError, match=r"\{nope\}"):
        app.task(concurrency_limit=1, concurrency_key="{nope}")(handler)
    # {payload} (the whole payload) and the type's own fields are fine
    field = sorted(TaskLimits.declare(payload_type=payload_type) and _fields(payload_type))[0]
    app.task(name=f"ok.{payload_type.__name__}", rate_limit="1/s", rate_key=f"{{payload}}-{{{field}}}")(
        handler
    )


def _fields(tp: type) -> set[str]:
    return set(
        getattr(tp, "__dataclass_fields__", None) or getattr(tp, "_fields", None) or tp.__annotations__
    )


# -- what a job carries ---------------------------------------------------------------------------


async def test_a_job_carries_its_tasks_limits_with_keys_from_its_payload(app: App) -> None:
    @app.task(rate_limit="100/s", concurrency_limit=5)
    async def call_api(c: Call) -> None: ...

    @app.task(
        concurrency_limit=1, concurrency_key="acct:{account_id}", rate_limit="10/m", rate_key="{tenant}"
    )
    async def sync(c: Call) -> None: ...

    @app.task
    async def plain(c: Call) -> None: ...

    a = await call_api.enqueue(Call(7))
    assert (a.concurrency_key, a.concurrency_limit) == (call_api.name, 5)
    assert (a.rate_key, a.rate_limit, a.rate_period) == (call_api.name, 100, 1.0)
    b = await sync.enqueue(Call(42, tenant="acme"))
    assert (b.concurrency_key, b.concurrency_limit) == ("acct:42", 1)
    assert (b.rate_key, b.rate_limit, b.rate_period) == ("acme", 10, 60.0)
    c = await plain.enqueue(Call(1))
    assert (c.concurrency_key, c.rate_key, c.limited) == (None, None, False)
    [d] = await app.enqueue_many([sync.prepare(Call(9, tenant="z"))])
    assert (d.concurrency_key, d.rate_key) == ("acct:9", "z")
    assert await app.get_job(b.id) == b


async def test_a_payload_the_key_cannot_be_formatted_from_is_a_clear_error_at_enqueue(app: App) -> None:
    @app.task(concurrency_limit=1, concurrency_key="{account_id}")
    async def loose(payload: dict[str, Any]) -> None: ...

    with pytest.raises(rota.PayloadError, match=r"concurrency_key '\{account_id\}'.*names \{account_id\}"):
        await loose.enqueue({"acct": 1})
    with pytest.raises(rota.PayloadError, match="empty"):
        await app.enqueue_many([loose.prepare({"account_id": 1}), loose.prepare({"account_id": ""})])
    with pytest.raises(rota.PayloadError, match="at most 200"):
        await loose.enqueue({"account_id": "x" * 300})
    assert await app.list_jobs() == []  # nothing half-written
    job = await loose.enqueue({"account_id": "a-1"})
    assert job.concurrency_key == "a-1"


# -- a worker held to them ---------------------------------------------------------------------


async def test_a_worker_runs_at_most_the_concurrency_limit_at_once(app: App) -> None:
    running: set[int] = set()
    peak = 0
    release = asyncio.Event()
    two_running = asyncio.Event()

    @app.task(concurrency_limit=2)
    async def slow(n: int) -> None:
        nonlocal peak
        running.add(n)
        peak = max(peak, len(running))
        if len(running) == 2:
            two_running.set()
        await release.wait()
        running.discard(n)

    @app.task
    async def quick(n: int) -> None: ...

    done: asyncio.Queue[str] = asyncio.Queue()
    app.on({EventKind.SUCCEEDED}, lambda event: done.put_nowait(event.job.id))
    jobs = [await slow.enqueue(n) for n in range(6)]
    others = [await quick.enqueue(n) for n in range(3)]
    async with app.worker(concurrency=10):
        await asyncio.wait_for(two_running.wait(), WAIT)
        # an unlimited task is not held up behind the limited one
        finished = {await asyncio.wait_for(done.get(), WAIT) for _ in others}
        assert finished == {j.id for j in others}
        stored = [await app.get_job(j.id) for j in jobs]
        assert sorted(j.status for j in stored).count(JobStatus.PENDING) == 4
        assert all(j.attempts == 0 for j in stored if j.status is JobStatus.PENDING)
        release.set()
        await app.wait_until_idle(timeout=WAIT)
    assert peak == 2
    assert [(await app.get_job(j.id)).status for j in jobs] == [JobStatus.SUCCEEDED] * len(jobs)


async def test_a_worker_sleeps_until_a_rate_limit_allows_the_next_job(app: App, clock: FakeClock) -> None:
    starts: list[float] = []
    t0 = clock.now()

    @app.task(rate_limit="2/s")
    async def paced(n: int) -> None:
        starts.append((clock.now() - t0).total_seconds())

    for n in range(5):
        await paced.enqueue(n)
    async with app.worker(concurrency=10):
        # the burst, then the worker sleeps exactly until the bucket has its next token
        await clock.wait_for_deadline(t0 + timedelta(seconds=0.5))
        assert starts == [0.0, 0.0]
        await clock.advance(0.5)
        await clock.wait_for_deadline(t0 + timedelta(seconds=1.0))
        assert starts == [0.0, 0.0, 0.5]
        await clock.advance(1.0)
        await app.wait_until_idle(timeout=WAIT)
    assert starts == [0.0, 0.0, 0.5, 1.0, 1.5]


async def test_task_locks_still_work_beside_limits(app: App) -> None:
    # a concurrency limit of 1 per account does what the lock does, in the store: the lock
    # is then never found busy, so no job is given back and claimed again
    seen: list[int] = []

    @app.task(lock="acct:{account_id}", concurrency_limit=1, concurrency_key="acct:{account_id}")
    async def locked(c: Call) -> None:
        seen.append(c.account_id)

    jobs = [await locked.enqueue(Call(n % 2)) for n in range(4)]
    async with app.worker(concurrency=4):
        await app.wait_until_idle(timeout=WAIT)
    assert sorted(seen) == [0, 0, 1, 1]
    for job in jobs:
        assert [a.outcome for a in await app.attempts(job.id)] == [rota.Outcome.SUCCEEDED]
