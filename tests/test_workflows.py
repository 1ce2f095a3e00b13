"""Dependencies, groups and chains through the App and a worker (memory store, fake clock):
what a user writes in docs/workflows.md, run."""

from __future__ import annotations

import pytest

import rota
from rota import App, ConfigError, JobNotFound, JobStatus

WAIT = 10  # real seconds a test may wait for an event before it fails (never slept)


async def test_after_runs_a_job_once_its_parents_succeeded(app: App) -> None:
    order: list[str] = []

    @app.task
    async def step(name: str) -> None:
        order.append(name)

    a, b = step.prepare("a"), step.prepare("b")
    c = step.prepare("c", after=[a, b])
    jobs = await app.enqueue_many([a, b, c])
    assert [j.status for j in jobs] == [JobStatus.PENDING, JobStatus.PENDING, JobStatus.WAITING]
    assert jobs[2].parents == (jobs[0].id, jobs[1].id)
    d = await step.enqueue("d", after=[jobs[2].id])
    assert d.status is JobStatus.WAITING
    async with app.worker(concurrency=4):
        await app.wait_until_idle(timeout=WAIT)
    assert sorted(order[:2]) == ["a", "b"]
    assert order[2:] == ["c", "d"]


async def test_a_failed_parent_cancels_unless_after_failure_run(app: App) -> None:
    @app.task(retry=1)
    async def boom(_: None) -> None:
        raise RuntimeError("no")

    @app.task
    async def after(name: str) -> str:
        return name

    parent = boom.prepare(None)
    cancelled = after.prepare("x", after=[parent])
    anyway = after.prepare("y", after=[parent], after_failure="run")
    jobs = await app.enqueue_many([parent, cancelled, anyway])
    async with app.worker():
        await app.wait_until_idle(timeout=WAIT)
    got = [await app.get_job(j.id) for j in jobs]
    assert [j.status for j in got] == [JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SUCCEEDED]
    assert jobs[0].id in (got[1].last_error or "")


async def test_a_group_calls_back_once_every_member_succeeded(app: App) -> None:
    seen: list[list[bytes | None]] = []

    @app.task
    async def square(n: int) -> int:
        return n * n

    @app.task
    async def total(label: str) -> None:
        ctx = rota.current_job()
        assert ctx is not None
        me = await app.get_job(ctx.job_id)
        seen.append([(await app.get_job(i)).result for i in me.parents or ()])

    group = await app.group([square.prepare(n) for n in range(4)], then=total.prepare("sum"))
    assert group.callback is not None and group.callback.status is JobStatus.WAITING
    assert group.callback.parents == tuple(group.ids)
    async with app.worker(concurrency=4):
        await app.wait_until_idle(timeout=WAIT)
    assert seen == [[b"0", b"1", b"4", b"9"]]


async def test_a_chain_passes_each_result_on(app: App) -> None:
    @app.task
    async def fetch(url: str) -> list[str]:
        return [url, "body"]

    @app.task
    async def parse(page: list[str]) -> int:
        return len(page[1])

    @app.task
    async def store(size: int) -> int:
        return size + 1

    jobs = await app.chain(fetch.prepare("http://x"), parse.prepare(["unused", ""]), store.prepare(0))
    assert [j.status for j in jobs] == [JobStatus.PENDING, JobStatus.WAITING, JobStatus.WAITING]
    async with app.worker():
        await app.wait_until_idle(timeout=WAIT)
    assert [(await app.get_job(j.id)).result for j in jobs] == [b'["http://x","body"]', b"4", b"5"]


async def test_bad_dependencies_are_refused_before_anything_is_written(app: App) -> None:
    @app.task
    async def noop(_: None) -> None: ...

    later = noop.prepare(None)
    with pytest.raises(ConfigError):
        await app.enqueue_many([noop.prepare(None, after=[later]), later])
    with pytest.raises(JobNotFound):
        await app.enqueue_many([noop.prepare(None), noop.prepare(None, after=["nope"])])
    with pytest.raises(ConfigError):
        noop.prepare(None, after="not-a-list")
    with pytest.raises(ConfigError):
        noop.prepare(None, after_failure="maybe")  # type: ignore[call-overload]
    with pytest.raises(ConfigError):
        await app.chain()
    assert await app.list_jobs() == []
