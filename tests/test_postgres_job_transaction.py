"""``ctx.transaction()`` on a real PostgreSQL, in process: a handler's writes and its job's
success commit together; a failure, a lost lease or a refused use keeps nothing. (The SIGKILL
case, with real worker processes: tests/test_multiprocess_job_transaction.py.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

import rota
from rota import App, JobContext, JobStatus, Outcome
from rota.stores.memory import MemoryStore
from rota.stores.postgres import PostgresStore
from rota.testing import FakeClock
from tests.servers.postgres import PgServer, _admin, with_query

pytestmark = pytest.mark.postgres

WAIT = 10.0  # real seconds; reached only when a promised run is missing


@pytest.fixture
async def app(postgres_server: PgServer, clock: FakeClock) -> AsyncIterator[App]:
    schema = f"jt_{uuid.uuid4().hex[:12]}"
    app = App(with_query(postgres_server.url, schema=schema), clock=clock, instance_id="w1")
    await app.open()
    yield app
    await app.close()
    await _admin(postgres_server.url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
async def admin(postgres_server: PgServer, app: App) -> AsyncIterator[asyncpg.Connection]:
    """The test's own connection; it owns the handlers' table (in public)."""
    conn = await asyncpg.connect(postgres_server.url)
    await conn.execute(f"CREATE TABLE {table(app)} (job text, attempt int)")
    yield conn
    await conn.execute(f"DROP TABLE IF EXISTS {table(app)}")
    await conn.close()


def table(app: App) -> str:
    store = app.store
    assert isinstance(store, PostgresStore)
    return f"effects_{store.config.schema}"


def schema(app: App) -> str:
    return table(app).removeprefix("effects_")


async def effects(admin: asyncpg.Connection, app: App) -> list[tuple[str, int]]:
    return [tuple(r) for r in await admin.fetch(f"SELECT job, attempt FROM {table(app)} ORDER BY attempt")]


async def run_until_settled(app: App, job_id: str, **settings: object) -> rota.Job:
    settled = asyncio.Event()
    app.on(
        {rota.EventKind.SUCCEEDED, rota.EventKind.FAILED, rota.EventKind.RETRYING, rota.EventKind.LEASE_LOST},
        lambda e: settled.set() if e.job.id == job_id else None,
    )
    async with app.worker(**settings):  # type: ignore[arg-type]
        await asyncio.wait_for(settled.wait(), WAIT)
    return await app.get_job(job_id)


async def test_the_writes_and_the_success_commit_together(app: App, admin: asyncpg.Connection) -> None:
    seen: list[str] = []

    @app.task(name="effect")
    async def effect(ctx: JobContext) -> str:
        async with ctx.transaction() as conn:
            # the handler's connection has the server's default search_path, not the store's
            seen.append(await conn.fetchval("SHOW search_path"))
            await conn.execute(f"INSERT INTO {table(app)} VALUES ($1, $2)", ctx.job_id, ctx.attempt)
        # still uncommitted after the block: nobody else sees the row yet
        seen.append(str(await admin.fetchval(f"SELECT count(*) FROM {table(app)}")))
        return "done"

    job = await effect.enqueue()
    done = await run_until_settled(app, job.id)
    assert done.status is JobStatus.SUCCEEDED and done.result == b'"done"'
    assert await effects(admin, app) == [(job.id, 1)]
    assert schema(app) not in seen[0] and seen[1] == "0"
    assert [a.outcome for a in await app.attempts(job.id)] == [Outcome.SUCCEEDED]


async def test_a_handler_that_raises_after_the_block_keeps_nothing_and_its_retry_once(
    app: App, admin: asyncpg.Connection, clock: FakeClock
) -> None:
    @app.task(name="flaky", retry=rota.RetryPolicy(attempts=2, backoff="fixed", base=5.0))
    async def flaky(ctx: JobContext) -> None:
        async with ctx.transaction() as conn:
            await conn.execute(f"INSERT INTO {table(app)} VALUES ($1, $2)", ctx.job_id, ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("after the block")

    job = await flaky.enqueue()
    first = await run_until_settled(app, job.id)
    assert first.status is JobStatus.PENDING and first.last_error is not None
    assert "after the block" in first.last_error
    assert await effects(admin, app) == []
    await clock.advance(5)
    second = await run_until_settled(app, job.id)
    assert second.status is JobStatus.SUCCEEDED
    assert await effects(admin, app) == [(job.id, 2)]


async def test_an_error_inside_the_block_rolls_back(app: App, admin: asyncpg.Connection) -> None:
    @app.task(name="inside", retry=1)
    async def inside(ctx: JobContext) -> None:
        async with ctx.transaction() as conn:
            await conn.execute(f"INSERT INTO {table(app)} VALUES ($1, $2)", ctx.job_id, ctx.attempt)
            raise ValueError("inside the block")

    job = await inside.enqueue()
    failed = await run_until_settled(app, job.id)
    assert failed.status is JobStatus.FAILED and "inside the block" in (failed.last_error or "")
    assert await effects(admin, app) == []


async def test_a_lost_lease_rolls_the_writes_back(app: App, admin: asyncpg.Connection) -> None:
    written = asyncio.Event()
    go_on = asyncio.Event()

    @app.task(name="slow")
    async def slow(ctx: JobContext) -> None:
        async with ctx.transaction() as conn:
            await conn.execute(f"INSERT INTO {table(app)} VALUES ($1, $2)", ctx.job_id, ctx.attempt)
        written.set()
        await go_on.wait()

    job = await slow.enqueue()
    lost = asyncio.Event()
    app.on(rota.EventKind.LEASE_LOST, lambda _: lost.set())
    async with app.worker() as worker:
        await asyncio.wait_for(written.wait(), WAIT)
        # another claim took the job meanwhile (its lease had expired): the token moved on
        bumped = await admin.fetchval(
            f'UPDATE "{schema(app)}".jobs SET token = token + 1 WHERE id = $1 RETURNING token', job.id
        )
        assert bumped == 2
        go_on.set()
        await asyncio.wait_for(lost.wait(), WAIT)
        assert worker.counters.lost == 1 and worker.counters.succeeded == 0
    assert await effects(admin, app) == []
    stored = await app.get_job(job.id)
    assert stored.status is JobStatus.RUNNING and stored.token == 2


async def test_a_task_with_a_lock_commits_through_its_fence(app: App, admin: asyncpg.Connection) -> None:
    @app.task(name="locked", lock="locked:{payload}")
    async def locked(n: int, ctx: JobContext) -> None:
        async with ctx.transaction() as conn:
            await conn.execute(f"INSERT INTO {table(app)} VALUES ($1, $2)", ctx.job_id, n)

    job = await locked.enqueue(7)
    assert (await run_until_settled(app, job.id)).status is JobStatus.SUCCEEDED
    assert await effects(admin, app) == [(job.id, 7)]


async def test_misuses_fail_the_attempt_with_a_clear_error(app: App, admin: asyncpg.Connection) -> None:
    @app.task(name="twice", retry=1)
    async def twice(ctx: JobContext) -> None:
        async with ctx.transaction() as conn:
            await conn.execute(f"INSERT INTO {table(app)} VALUES ($1, $2)", ctx.job_id, ctx.attempt)
        async with ctx.transaction():
            pass

    @app.task(name="blocking", retry=1)
    def blocking(ctx: JobContext) -> None:
        async def enter() -> None:
            async with ctx.transaction():
                pass

        asyncio.run(enter())

    for task, message in ((twice, "once per run"), (blocking, "only in an async def handler")):
        job = await task.enqueue()
        failed = await run_until_settled(app, job.id)
        assert failed.status is JobStatus.FAILED
        assert "ConfigError: ctx.transaction() " in (failed.last_error or "")
        assert message in (failed.last_error or "")
    assert await effects(admin, app) == []


async def test_other_stores_refuse_it(clock: FakeClock) -> None:
    app = App(store=MemoryStore(), clock=clock)

    @app.task(name="t", retry=1)
    async def t(ctx: JobContext) -> None:
        async with ctx.transaction():
            pass

    job = await t.enqueue()
    failed = await run_until_settled(app, job.id)
    assert "ctx.transaction() needs the PostgreSQL store; this app's store is memory" in (
        failed.last_error or ""
    )
    await app.close()
