"""The job log (``rota.jobs``): one record per start and outcome with the job's fields in
``extra``, levels that show failures by default and successes with -v, no event built for a
kind whose level is off; and the JSON formatter behind ``--log-format json``."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

import rota
from rota import App, EventKind, RetryPolicy
from rota.logs import JsonFormatter
from rota.runtime.joblog import JobLog
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock

WAIT = 10


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    store = MemoryStore()
    yield store
    await store.close()


def jobs_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "rota.jobs"]


def field(record: logging.LogRecord, name: str) -> object:
    return record.__dict__.get(name)


async def test_one_record_per_start_and_outcome_with_the_jobs_fields(
    store: MemoryStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rota.jobs")
    app = App(store=store, clock=clock, instance_id="w1")
    tries: dict[int, int] = {}

    @app.task(name="ok")
    async def ok(n: int) -> None: ...

    @app.task(name="flaky", retry=RetryPolicy(attempts=3, backoff="fixed", base=30))
    async def flaky(n: int) -> None:
        tries[n] = tries.get(n, 0) + 1
        if tries[n] == 1:
            raise RuntimeError("first try")

    @app.task(name="doomed", retry=1)
    async def doomed() -> None:
        raise ValueError("no way")

    @app.task(name="quit")
    async def quit_() -> None:
        raise rota.Cancel("not needed any more")

    producer = App(store=store, clock=clock)

    @producer.task(name="elsewhere", retry=1)
    async def elsewhere() -> None: ...

    jobs = {
        "ok": await ok.enqueue(1),
        "flaky": await flaky.enqueue(2),
        "doomed": await doomed.enqueue(),
        "quit": await quit_.enqueue(),
        "unknown": await elsewhere.enqueue(),
    }
    async with app.worker(concurrency=5):
        await app.wait_until_idle(timeout=WAIT)
        await clock.advance(30)  # the retry of the flaky job is due
        await app.wait_until_idle(timeout=WAIT)
    records = jobs_records(caplog)
    by = {(field(r, "event"), field(r, "job_id"), field(r, "attempt")): r for r in records}
    assert len(by) == len(records)  # one record per start and per outcome, none twice

    ok_id, flaky_id = jobs["ok"].id, jobs["flaky"].id
    assert set(by) == {
        ("started", ok_id, 1), ("succeeded", ok_id, 1),
        ("started", flaky_id, 1), ("retrying", flaky_id, 1),
        ("started", flaky_id, 2), ("succeeded", flaky_id, 2),
        ("started", jobs["doomed"].id, 1), ("failed", jobs["doomed"].id, 1),
        ("started", jobs["quit"].id, 1), ("cancelled", jobs["quit"].id, 1),
        ("failed", jobs["unknown"].id, 1),  # never started: its task is not known here
    }  # fmt: skip
    for record in records:
        assert (field(record, "worker"), field(record, "queue")) == ("w1", "default")
        assert field(record, "task") in {"ok", "flaky", "doomed", "quit", "elsewhere"}
        assert isinstance(field(record, "max_attempts"), int)

    success = by[("succeeded", ok_id, 1)]
    assert success.levelno == logging.INFO and isinstance(field(success, "duration"), float)
    assert success.getMessage() == f"job {ok_id} (ok) succeeded after {field(success, 'duration'):.3f}s"
    start = by[("started", flaky_id, 1)]
    assert start.levelno == logging.INFO and start.getMessage().endswith("started: attempt 1 of 3")
    retry = by[("retrying", flaky_id, 1)]
    assert retry.levelno == logging.WARNING
    assert (field(retry, "error"), field(retry, "error_type"), field(retry, "retry_in")) == (
        "RuntimeError: first try", "RuntimeError", 30.0
    )  # fmt: skip
    assert "retrying in 30.0s" in retry.getMessage()
    dead = by[("failed", jobs["doomed"].id, 1)]
    assert dead.levelno == logging.ERROR and "failed for good" in dead.getMessage()
    assert "ValueError: no way" in str(field(dead, "traceback"))
    cancelled = by[("cancelled", jobs["quit"].id, 1)]
    assert cancelled.levelno == logging.INFO and "not needed any more" in cancelled.getMessage()
    unknown = by[("failed", jobs["unknown"].id, 1)]
    assert unknown.levelno == logging.ERROR and field(unknown, "error_type") == "TaskNotFound"
    assert unknown.getMessage().startswith(f"job {jobs['unknown'].id}: unknown task 'elsewhere'")
    assert field(unknown, "duration") is None


async def test_at_the_default_level_only_failures_are_logged_and_successes_build_no_event(
    store: MemoryStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="rota.jobs")
    app = App(store=store, clock=clock, instance_id="w1")
    done = asyncio.Event()

    @app.task(name="ok")
    async def ok() -> None:
        done.set()

    @app.task(name="doomed", retry=1)
    async def doomed() -> None:
        raise ValueError("no way")

    events = app.context.events
    async with app.worker():
        # what a worker's hot path asks before it builds an event
        wanted = {kind for kind in EventKind if events.wants(kind)}
        assert wanted == {EventKind.RETRYING, EventKind.FAILED, EventKind.LEASE_LOST}
        await ok.enqueue()
        await asyncio.wait_for(done.wait(), WAIT)
        failing = await doomed.enqueue()
        await app.wait_until_idle(timeout=WAIT)
    [record] = jobs_records(caplog)
    assert (record.levelno, field(record, "event"), field(record, "job_id")) == (
        logging.ERROR, "failed", failing.id
    )  # fmt: skip


async def test_a_lost_lease_and_a_release_at_shutdown_are_logged(
    store: MemoryStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rota.jobs")
    app = App(store=store, clock=clock, instance_id="w1")
    running = asyncio.Event()

    @app.task(name="long")
    async def long(n: int) -> None:
        running.set()
        await asyncio.Event().wait()

    cancelled = await long.enqueue(1)
    async with app.worker(lease=30, grace=0):  # no grace: the second job is given back at once
        await asyncio.wait_for(running.wait(), WAIT)
        await app.cancel(cancelled.id)  # the store ends the lease; the worker hears it
        await clock.advance(10)  # at its next heartbeat
        running.clear()
        given_back = await long.enqueue(2)
        await asyncio.wait_for(running.wait(), WAIT)
    records = jobs_records(caplog)
    [lost] = [r for r in records if field(r, "event") == "lease_lost"]
    assert (lost.levelno, field(lost, "job_id")) == (logging.WARNING, cancelled.id)
    assert lost.getMessage() == f"job {cancelled.id} (long) stopped after 10.000s: lease lost"
    [released] = [r for r in records if field(r, "event") == "released"]
    assert (released.levelno, field(released, "job_id")) == (logging.INFO, given_back.id)


@pytest.mark.parametrize("names", [("a", "b"), (None, None)], ids=["named", "same-default-id"])
async def test_two_workers_of_one_app_log_each_run_once(
    store: MemoryStore,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    names: tuple[str | None, str | None],
) -> None:
    caplog.set_level(logging.INFO, logger="rota.jobs")
    app = App(store=store, clock=clock, instance_id="w1")

    @app.task(name="ok")
    async def ok(n: int) -> None: ...

    await app.enqueue_many([ok.prepare(n) for n in range(20)])
    first, second = (app.worker(name=name, concurrency=2) for name in names)
    async with first, second:
        await app.wait_until_idle(timeout=WAIT)
    succeeded = [r for r in jobs_records(caplog) if field(r, "event") == "succeeded"]
    assert len(succeeded) == 20 and len({field(r, "job_id") for r in succeeded}) == 20
    assert {field(r, "worker") for r in succeeded} <= {"a", "b", "w1"}
    # the last worker to stop unsubscribed the job log
    assert not any(isinstance(listener, JobLog) for _, listener in app.context.events._listeners)


# -- the JSON formatter -----------------------------------------------------------------------


def format_json(record: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data: dict[str, object] = json.loads(line)
    return data


def make_record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise KeyError("missing")
        except KeyError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("rota.jobs", logging.ERROR, __file__, 1, msg, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_json_lines_hold_the_message_and_every_extra_field() -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = format_json(make_record("job %s failed", "j1", job_id="j1", attempt=2, duration=0.5, at=when))
    assert data["message"] == "job j1 failed" and data["level"] == "ERROR" and data["logger"] == "rota.jobs"
    assert (data["job_id"], data["attempt"], data["duration"]) == ("j1", 2, 0.5)
    assert data["at"] == "2030-01-02T03:04:05Z"
    assert datetime.fromisoformat(str(data["time"])).tzinfo is not None and str(data["time"]).endswith("Z")
    assert not {"args", "msg", "levelno", "pathname", "exc_info"} & set(data)


def test_json_lines_carry_tracebacks_and_survive_values_json_cannot_hold() -> None:
    class Stubborn:
        def __str__(self) -> str:
            raise RuntimeError("no str")

    data = format_json(make_record("boom", exc=True, things={1, 2}, odd=Stubborn(), text="line\nbreak"))
    assert "KeyError: 'missing'" in str(data["exc_info"])
    assert data["things"] in ("{1, 2}", "{2, 1}")
    assert data["odd"] == "<Stubborn>" and data["text"] == "line\nbreak"
