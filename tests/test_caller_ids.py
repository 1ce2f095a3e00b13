"""Caller-chosen job ids (``enqueue(id=...)``): one job per id, however often it is enqueued,
and the checks at the API. The store side (``add`` idempotent per id) is the conformance
suite's ``jobs_add``, on every store."""

from __future__ import annotations

import pytest

import rota
from rota import App, EventKind, JobStatus


async def test_enqueue_with_an_id_names_one_job_however_often_enqueued(app: App) -> None:
    @app.task
    async def report(day: str) -> str:
        return day

    enqueued: list[rota.Event] = []
    app.on(EventKind.ENQUEUED, enqueued.append)
    first = await report.enqueue("2026-12-01", id="report:2026-12-01")
    again = await report.enqueue("2026-12-02", id="report:2026-12-01", delay=60)
    assert first.id == again.id == "report:2026-12-01"
    assert again.payload == b'"2026-12-01"'  # the stored job, not the second call's
    assert len(enqueued) == 1
    assert [j.id for j in await app.list_jobs()] == ["report:2026-12-01"]
    async with app.worker():
        await app.wait_until_idle(timeout=10)
    done = await app.get_job("report:2026-12-01")
    assert done.status is JobStatus.SUCCEEDED
    # a finished job keeps its id until purged: enqueueing it again returns it
    assert (await report.enqueue("x", id="report:2026-12-01")).status is JobStatus.SUCCEEDED


async def test_an_id_and_a_key_together_the_id_is_looked_up_first(app: App) -> None:
    @app.task
    async def t(n: int) -> None: ...

    keyed = await t.enqueue(1, key="k")
    named = await t.enqueue(2, id="mine", key="k")
    assert named.id == keyed.id  # no job "mine" existed: the key's holder is returned
    assert await app.store.get_job("mine") is None
    own = await t.enqueue(3, id="own")
    assert (await t.enqueue(4, id="own", key="k")).id == "own"
    assert own.id == "own"


@pytest.mark.parametrize(
    "bad",
    ["", "a\x00b", "x" * 201, 42, b"bytes", True, 1.5, ["a"], "\ud800"],
    ids=["empty", "nul", "too-long", "int", "bytes", "bool", "float", "list", "surrogate"],
)
async def test_a_bad_id_is_a_config_error_and_writes_nothing(app: App, bad: object) -> None:
    @app.task
    async def t(n: int) -> None: ...

    with pytest.raises(rota.ConfigError, match="job id"):
        await t.enqueue(1, id=bad)  # type: ignore[arg-type]
    with pytest.raises(rota.ConfigError, match="job id"):
        t.prepare(1, id=bad)  # type: ignore[arg-type]
    assert await app.list_jobs() == []


async def test_two_jobs_with_one_id_in_one_call_are_refused(app: App) -> None:
    @app.task
    async def t(n: int) -> None: ...

    with pytest.raises(rota.ConfigError, match="same id"):
        await app.enqueue_many([t.prepare(1, id="same"), t.prepare(2, id="same")])
    assert await app.list_jobs() == []
    jobs = await app.enqueue_many([t.prepare(1, id="one"), t.prepare(2, id="two")])
    assert [j.id for j in jobs] == ["one", "two"]
