"""Fuzzing the public API with generated values (issue #11, "bad input, everywhere").

The property, for every entry point: the call succeeds or raises a ``RotaError``, never any
other exception; after a refusal the store holds exactly what it held before (no half-written
job or schedule); what was accepted reads back intact. Runs on the memory store and on SQLite
(a real file, so values the store itself could not hold would show up). The number of inputs
tried is printed at the end of the run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rota
from rota import App, At, Every, RetryPolicy
from rota.testing import FakeClock
from tests.fuzz.values import TRIED, anything, dates, deltas, durations, names, numbers, print_tried, texts

# ROTA_FUZZ_EXAMPLES=5000 for a deeper run than the one make test does
EXAMPLES = int(os.environ.get("ROTA_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Email:
    to: str
    subject: str


class Target:
    """One app on one store, driven from sync hypothesis tests through one event loop."""

    def __init__(self, url: str) -> None:
        self.runner = asyncio.Runner()
        self.app = App(url, clock=FakeClock(), instance_id="fuzz")

        @self.app.task(name="send")
        async def send(email: Email) -> None: ...

        @self.app.task(name="count", lock="n:{payload}")
        def count(n: int) -> int:
            return n

        @self.app.task(name="bare")
        async def bare() -> None: ...

        self.tasks = {"send": send, "count": count, "bare": bare}

    def run(self, value: Any) -> Any:
        return self.runner.run(value) if asyncio.iscoroutine(value) else value

    async def snapshot(self) -> tuple[Any, ...]:
        jobs = await self.app.list_jobs(limit=10_000)
        schedules = await self.app.schedules.list()
        return tuple(j.id for j in jobs), tuple((s.id, s.record.version) for s in schedules)

    def attempt(self, suite: str, call: Callable[[], Any]) -> Any:
        """Run ``call``; a RotaError is a refusal, after which nothing may have changed."""
        before = self.run(self.snapshot())
        TRIED[suite] += 1
        try:
            result = self.run(call())
        except rota.RotaError as exc:
            import os

            if os.environ.get("FUZZ_DEBUG"):
                print("REFUSED", suite, str(exc)[:70])
            TRIED[f"{suite}: refused"] += 1
            assert self.run(self.snapshot()) == before, "a refused call wrote to the store"
            return None
        TRIED[f"{suite}: accepted"] += 1
        return result

    def close(self) -> None:
        self.runner.run(self.app.close())
        self.runner.close()


@pytest.fixture(params=["memory", "sqlite"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'fuzz.db'}"
    t = Target(url)
    yield t
    t.close()


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    print_tried(request, "api", "API fuzz")


def mostly(valid: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid values four times in five, so that accepted inputs reach the store too (not
    ``one_of``, which flattens nested choices and would let the many bad ones dominate)."""
    return st.integers(0, 4).flatmap(lambda n: bad if n == 0 else valid)


ok_delay = st.floats(0, 10 * 365 * 86_400) | st.integers(0, 10**6)
ok_names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=200)
ok_priority = st.integers(-(2**31), 2**31 - 1)
payloads = st.one_of(
    anything,
    st.builds(Email, texts, texts),
    st.fixed_dictionaries({"to": texts, "subject": texts}),
    st.integers(),
    st.text(max_size=50),
)


@FUZZ
@given(
    task=st.sampled_from(["count", "count", "send", "bare"]),
    payload=mostly(st.integers(-1000, 1000) | st.builds(Email, st.text(), st.text()), payloads),
    options=st.fixed_dictionaries(
        {},
        optional={
            "delay": mostly(ok_delay, durations),
            "at": mostly(st.datetimes(timezones=st.timezones()), st.one_of(dates, anything)),
            "key": mostly(ok_names, names),
            "priority": mostly(ok_priority, st.one_of(numbers, anything)),
            "queue": mostly(ok_names, names),
        },
    ),
    how=st.sampled_from(["enqueue", "app.enqueue", "prepare+enqueue_many"]),
)
def test_enqueue(target: Target, task: str, payload: Any, options: dict[str, Any], how: str) -> None:
    handle = target.tasks[task]

    async def call() -> rota.Job:
        if how == "enqueue":
            return await handle.enqueue(payload, **options)
        if how == "app.enqueue":
            return await target.app.enqueue(task, payload, **options)
        good = target.tasks["bare"].prepare()
        return (await target.app.enqueue_many([good, handle.prepare(payload, **options)]))[1]

    job = target.attempt("api enqueue", call)
    if job is not None:  # accepted: it reads back, and within the documented ranges
        stored = target.run(target.app.get_job(job.id))
        assert stored == job
        assert -(2**31) <= stored.priority < 2**31
        assert stored.due_at is not None and 1970 <= stored.due_at.year < 9999
        target.tasks[stored.task].decode(stored.payload)  # a duplicate key returns another's job


@FUZZ
@given(
    options=st.fixed_dictionaries(
        {},
        optional={
            "name": mostly(ok_names, names),
            "queue": mostly(ok_names, names),
            "priority": mostly(ok_priority, st.one_of(numbers, anything)),
            "retry": mostly(st.integers(1, 100), st.one_of(numbers, anything)),
            "timeout": mostly(ok_delay.filter(bool), durations),
            "lock": mostly(st.just("{payload}"), names),
        },
    ),
)
def test_task_declaration(target: Target, options: dict[str, Any]) -> None:
    def declare() -> Any:
        async def handler(n: int) -> None: ...

        return target.app.task(**options)(handler)

    task = target.attempt("api task", declare)
    if task is not None:
        target.app.tasks.pop(task.name)


@FUZZ
@given(
    kwargs=st.fixed_dictionaries(
        {},
        optional={
            "attempts": st.one_of(numbers, anything),
            "backoff": st.one_of(
                st.sampled_from(["fixed", "linear", "exponential", "backpressure"]), anything
            ),
            "base": durations,
            "cap": durations,
            "jitter": st.one_of(st.booleans(), anything),
        },
    ),
    after=st.one_of(durations, st.none()),
    attempt=st.integers(min_value=1, max_value=2_000_000),
)
def test_retry_policies_and_signals(target: Target, kwargs: dict[str, Any], after: Any, attempt: int) -> None:
    policy = target.attempt("api RetryPolicy", lambda: RetryPolicy(**kwargs))
    if policy is not None:  # every delay it can give is one the worker can schedule
        delay = policy.delay(attempt)
        assert 0 <= delay <= 100 * 366 * 86_400
    signal = target.attempt("api Retry", lambda: rota.Retry(after=after))
    if signal is not None and signal.after is not None:
        assert 0 <= signal.after <= 100 * 366 * 86_400


@FUZZ
@given(
    args=st.lists(st.one_of(durations, deltas), max_size=1),
    kwargs=st.fixed_dictionaries(
        {},
        optional={
            "seconds": mostly(st.integers(0, 10**6), numbers),
            "minutes": mostly(st.floats(0, 1000), numbers),
            "hours": numbers,
            "days": numbers,
            "weeks": numbers,
            "start": mostly(st.datetimes(timezones=st.timezones()), st.one_of(dates, anything)),
        },
    ),
    at=mostly(st.datetimes(timezones=st.timezones()), st.one_of(dates, anything)),
    schedule_id=mostly(ok_names, names),
    options=st.fixed_dictionaries(
        {},
        optional={
            "payload": mostly(st.integers(-10, 10), payloads),
            "queue": mostly(ok_names, names),
            "priority": mostly(ok_priority, numbers),
            "misfire": mostly(st.sampled_from(["skip", "run_once", "run_all"]), names),
            "misfire_grace": mostly(ok_delay, durations),
            "max_catchup": mostly(st.integers(1, 10_000), numbers),
            "jitter": mostly(ok_delay, durations),
            "overlap": mostly(st.sampled_from(["allow", "skip"]), names),
        },
    ),
    one_time=st.booleans(),
)
def test_triggers_and_schedules(
    target: Target,
    args: list[Any],
    kwargs: dict[str, Any],
    at: Any,
    schedule_id: Any,
    options: dict[str, Any],
    one_time: bool,
) -> None:
    every = target.attempt("api Every", lambda: Every(*args, **kwargs))
    once = target.attempt("api At", lambda: At(at))
    if every is not None:  # an accepted interval fires, and within the range of instants
        fire = every.next_fire(target.app.clock.now())
        assert fire is not None and fire.year < 9999
    trigger = once if one_time and once is not None else every or Every(60)
    info = target.attempt(
        "api schedules.add",
        lambda: target.app.schedules.add(schedule_id, task=target.tasks["count"], trigger=trigger, **options),
    )
    if info is not None:
        assert target.run(target.app.schedules.get(info.id)).record == info.record
        target.run(target.app.schedules.remove(info.id))


@FUZZ
@given(
    action=st.sampled_from(
        ["get_job", "attempts", "cancel", "requeue", "get", "pause", "resume", "remove", "trigger_now"]
    ),
    ident=names,
    listing=st.fixed_dictionaries(
        {},
        optional={
            "status": names,
            "queue": names,
            "task": names,
            "limit": st.one_of(numbers, anything),
            "after_id": names,
        },
    ),
    purge=st.fixed_dictionaries(
        {"older_than": durations},
        optional={"statuses": st.one_of(st.lists(names, max_size=3), anything), "batch": numbers},
    ),
)
def test_lookups_listing_and_purge(
    target: Target, action: str, ident: Any, listing: dict[str, Any], purge: dict[str, Any]
) -> None:
    owner: Any = (
        target.app if action in ("get_job", "attempts", "cancel", "requeue") else target.app.schedules
    )

    async def look() -> Any:
        try:
            return await getattr(owner, action)(ident)
        except (rota.JobNotFound, rota.ScheduleNotFound):
            return "not found"  # the honest answer for a well-formed id that is not there

    target.attempt("api lookup", look)
    target.attempt("api list_jobs", lambda: target.app.list_jobs(**listing))
    target.attempt("api purge", lambda: target.app.purge(**purge))


@FUZZ
@given(
    worker=st.fixed_dictionaries(
        {},
        optional={
            "concurrency": numbers,
            "queues": st.one_of(st.lists(names, max_size=3), anything),
            "lease": durations,
            "claim_batch": numbers,
            "poll_interval": durations,
            "grace": durations,
            "sync_threads": numbers,
            "name": names,
            "scheduler": anything,
            "retention": durations,
        },
    ),
    lock_name=names,
    lock=st.fixed_dictionaries(
        {},
        optional={
            "ttl": durations,
            "timeout": durations,
            "renew_interval": durations,
            "safety_margin": durations,
            "retry_interval": durations,
        },
    ),
    app_options=st.fixed_dictionaries(
        {}, optional={"instance_id": names, "max_payload_bytes": st.one_of(numbers, anything)}
    ),
    url=st.one_of(
        texts,
        st.sampled_from(
            [
                "memory://",
                "memory://x",
                "sqlite://",
                "sqlite:///",
                "redis://127.0.0.1:99999/0",
                "redis://h/x",
                "postgresql://h/db?schema=pg_toast",
                "postgresql://h:0/db",
                "mongodb://",
                "mongodb://h/a.b",
                "mysql://h",
                "redis://h/0?cluster=maybe",
                "postgresql://u:p@h/db?password=x&y=1",
                "unix://",
            ]
        ),
        st.builds(
            lambda s, rest: f"{s}://{rest}",
            st.sampled_from(["redis", "postgresql", "mongodb", "sqlite"]),
            st.text(max_size=20),
        ),
    ),
)
def test_worker_lock_and_app_settings(
    target: Target,
    worker: dict[str, Any],
    lock_name: Any,
    lock: dict[str, Any],
    app_options: dict[str, Any],
    url: str,
) -> None:
    target.attempt("api worker settings", lambda: target.app.worker(**worker))
    target.attempt("api lock", lambda: target.app.lock(lock_name, **lock))
    target.attempt("api App", lambda: App("memory://", **app_options))

    def build_store() -> Any:
        if url.startswith("sqlite:") or "://" not in url:
            return None  # a real path would create files wherever the text points
        return App(url).store  # parsing only: nothing connects

    target.attempt("api store URL", build_store)
