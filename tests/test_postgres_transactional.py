"""Transactional enqueue on a real PostgreSQL: ``enqueue(..., connection=conn)`` writes the job
in the caller's transaction (asyncpg, psycopg 3, SQLAlchemy), leaves the caller's session as
it was, and wakes workers only at commit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import rota
from rota import App, JobStatus
from rota.stores.memory import MemoryStore
from rota.stores.postgres import PostgresStore
from rota.stores.postgres._external import TABLES, qualified, statement
from rota.testing import FakeClock
from tests.servers.postgres import PgServer, _admin, with_query

pytestmark = pytest.mark.postgres

WAIT = 10.0  # real seconds; reached only when a promised wake-up or run is missing


@pytest.fixture
async def schema(postgres_server: PgServer) -> AsyncIterator[str]:
    name = f"tx_{uuid.uuid4().hex[:12]}"
    yield name
    await _admin(postgres_server.url, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
async def app(postgres_server: PgServer, schema: str, clock: FakeClock) -> AsyncIterator[App]:
    app = App(with_query(postgres_server.url, schema=schema), clock=clock, instance_id="w1")
    await app.open()
    yield app
    await app.close()


@pytest.fixture
async def conn(postgres_server: PgServer, app: App) -> AsyncIterator[asyncpg.Connection]:
    """The caller's own connection: the server's default search_path, not the store's."""
    connection = await asyncpg.connect(postgres_server.url)
    await connection.execute(f"CREATE TABLE public.{orders_of(app)} (id text PRIMARY KEY)")
    yield connection
    await connection.execute(f"DROP TABLE IF EXISTS public.{orders_of(app)}")
    await connection.close()


def orders_of(app: App) -> str:
    """The caller's own table of this test (in ``public``, outside the store's schema)."""
    return f"orders_{schema_of(app)}"


def schema_of(app: App) -> str:
    store = app.store
    assert isinstance(store, PostgresStore)
    return store.config.schema


def register(app: App) -> tuple[rota.Task[str], list[str]]:
    ran: list[str] = []

    @app.task(name="ship")
    async def ship(order: str) -> None:
        ran.append(order)

    return ship, ran


async def pool_sees(app: App) -> list[str]:
    """The job ids any other session (the store's pool) sees: committed ones only."""
    return [j.id for j in await app.list_jobs()]


# -- asyncpg ---------------------------------------------------------------------------------


async def test_rollback_leaves_no_job_and_commit_keeps_it(app: App, conn: asyncpg.Connection) -> None:
    ship, _ = register(app)
    enqueued: list[rota.Job] = []

    async def order_then_fail() -> None:
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {orders_of(app)} VALUES ('o1')")
            enqueued.append(await ship.enqueue("o1", connection=conn))
            # the caller's transaction sees its job; nobody else does yet
            assert await conn.fetchval(f'SELECT count(*) FROM "{schema_of(app)}".jobs') == 1
            assert await pool_sees(app) == []
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await order_then_fail()
    [job] = enqueued
    assert await pool_sees(app) == []
    assert await conn.fetchval(f"SELECT count(*) FROM {orders_of(app)}") == 0
    with pytest.raises(rota.JobNotFound):
        await app.get_job(job.id)

    async with conn.transaction():
        await conn.execute(f"INSERT INTO {orders_of(app)} VALUES ('o2')")
        kept = await ship.enqueue("o2", connection=conn, priority=3)
    stored = await app.get_job(kept.id)
    assert (stored.status, stored.priority, stored.payload) == (JobStatus.PENDING, 3, b'"o2"')
    assert stored == kept


async def test_enqueue_many_and_keys_within_one_transaction(app: App, conn: asyncpg.Connection) -> None:
    ship, _ = register(app)
    committed = await ship.enqueue("held", key="k-held")
    async with conn.transaction():
        jobs = await app.enqueue_many(
            [ship.prepare("a", key="k1"), ship.prepare("b"), ship.prepare("c", key="k1"),
             ship.prepare("d", key="k-held")],
            connection=conn,
        )  # fmt: skip
        # a key this transaction took itself is found (and returned) here too
        again = await ship.enqueue("e", key="k1", connection=conn)
    a, b, c, d = jobs
    assert c.id == a.id and again.id == a.id and d.id == committed.id
    assert d.payload == b'"held"'
    assert sorted(await pool_sees(app)) == sorted({committed.id, a.id, b.id})


async def test_a_plain_connection_outside_a_transaction_writes_at_once(
    app: App, conn: asyncpg.Connection
) -> None:
    ship, _ = register(app)
    job = await ship.enqueue("now", connection=conn)
    assert await pool_sees(app) == [job.id]


async def test_the_callers_search_path_and_session_are_unchanged(app: App, conn: asyncpg.Connection) -> None:
    ship, _ = register(app)
    before = await conn.fetchval("SHOW search_path")
    assert schema_of(app) not in before
    async with conn.transaction():
        await conn.execute("SET LOCAL search_path TO public")
        await ship.enqueue("x", connection=conn)
        assert await conn.fetchval("SHOW search_path") == "public"
    assert await conn.fetchval("SHOW search_path") == before
    await ship.enqueue("y", connection=conn)
    assert await conn.fetchval("SHOW search_path") == before
    # a table of the caller's named like one of the store's is not touched
    await conn.execute("CREATE TEMP TABLE jobs (x int)")
    await ship.enqueue("z", connection=conn)
    assert await conn.fetchval("SELECT count(*) FROM jobs") == 0
    assert len(await pool_sees(app)) == 3


async def test_a_pooled_asyncpg_connection_works(postgres_server: PgServer, app: App) -> None:
    ship, _ = register(app)
    pool = await asyncpg.create_pool(postgres_server.url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as pooled, pooled.transaction():
            job = await ship.enqueue("p", connection=pooled)
            assert await pool_sees(app) == []
    finally:
        await pool.close()
    assert await pool_sees(app) == [job.id]


async def test_a_taken_id_and_an_aborted_transaction_raise(app: App, conn: asyncpg.Connection) -> None:
    ship, _ = register(app)

    async def after_a_failed_statement() -> None:
        async with conn.transaction():
            with pytest.raises(asyncpg.DivisionByZeroError):
                await conn.execute("SELECT 1/0")
            await ship.enqueue("x", connection=conn)  # the caller's own failure, unchanged

    with pytest.raises(asyncpg.InFailedSQLTransactionError):
        await after_a_failed_statement()
    assert await pool_sees(app) == []


# -- a worker never sees the job before the commit -------------------------------------------


def count_claims(store: PostgresStore, hits: int) -> tuple[list[int], asyncio.Event]:
    """Wrap the store's claim (the real one runs) to count calls and what they found; the
    event is set once ``hits`` claims ran since the last reset (``seen`` is mutable)."""
    seen = [0, 0]  # claims, jobs claimed
    reached = asyncio.Event()
    real = store.claim

    async def claim(**kwargs: Any) -> list[rota.Job]:
        jobs = await real(**kwargs)
        seen[0] += 1
        seen[1] += len(jobs)
        if seen[0] >= hits:
            reached.set()
        return jobs

    store.claim = claim  # type: ignore[method-assign]
    return seen, reached


async def test_a_polling_worker_never_sees_the_job_before_commit(app: App, conn: asyncpg.Connection) -> None:
    ship, ran = register(app)
    done = asyncio.Event()
    app.on(rota.EventKind.SUCCEEDED, lambda _: done.set())
    store = app.store
    assert isinstance(store, PostgresStore)
    async with app.worker(poll_interval=0.02):
        tx = conn.transaction()
        await tx.start()
        job = await ship.enqueue("late", connection=conn)
        seen, polled = count_claims(store, hits=5)
        store.notify_jobs()  # wake it too, as a stray notification would
        await asyncio.wait_for(polled.wait(), WAIT)  # five claims while the transaction is open
        assert seen[1] == 0 and ran == []
        assert await pool_sees(app) == []
        await tx.commit()
        await asyncio.wait_for(done.wait(), WAIT)
    assert ran == ["late"]
    assert (await app.get_job(job.id)).status is JobStatus.SUCCEEDED


async def test_the_commit_wakes_an_idle_worker(
    postgres_server: PgServer, app: App, conn: asyncpg.Connection
) -> None:
    """The worker's polling and its fake clock never fire here: only the NOTIFY that
    PostgreSQL delivers at the commit can wake it."""
    ship, ran = register(app)
    done = asyncio.Event()
    app.on(rota.EventKind.SUCCEEDED, lambda _: done.set())
    store = app.store
    assert isinstance(store, PostgresStore)
    seen, first_claim = count_claims(store, hits=1)
    async with app.worker(poll_interval=3600):
        await asyncio.wait_for(first_claim.wait(), WAIT)  # it claimed once and went idle
        async with conn.transaction():
            await ship.enqueue("woken", connection=conn)
        await asyncio.wait_for(done.wait(), WAIT)
    assert ran == ["woken"] and seen[1] == 1


# -- psycopg and SQLAlchemy ------------------------------------------------------------------


async def test_psycopg_connection(postgres_server: PgServer, app: App, conn: asyncpg.Connection) -> None:
    psycopg = pytest.importorskip("psycopg")
    from psycopg.rows import dict_row

    ship, _ = register(app)
    async with await psycopg.AsyncConnection.connect(postgres_server.url, row_factory=dict_row) as pconn:
        before = (await (await pconn.execute("SHOW search_path")).fetchone())["search_path"]
        # an implicit transaction (psycopg's default): rolled back
        await pconn.execute(f"INSERT INTO {orders_of(app)} VALUES ('p1')")
        job = await ship.enqueue("p1", connection=pconn, key="pk")
        same = await ship.enqueue("p1-again", connection=pconn, key="pk")
        assert same.id == job.id and same.payload == b'"p1"' and same.created_at == job.created_at
        assert await pool_sees(app) == []
        await pconn.rollback()
        assert await pool_sees(app) == []
        assert await conn.fetchval(f"SELECT count(*) FROM {orders_of(app)}") == 0
        # an explicit transaction block: committed
        async with pconn.transaction():
            many = await app.enqueue_many(
                [ship.prepare("p2"), ship.prepare("p3", delay=60)], connection=pconn
            )
            assert await pool_sees(app) == []
        assert sorted(await pool_sees(app)) == sorted(j.id for j in many)
        stored = await app.get_job(many[1].id)
        assert stored == many[1] and stored.due_at == many[1].due_at
        after = (await (await pconn.execute("SHOW search_path")).fetchone())["search_path"]
        assert after == before
    await pconn.close()


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_sqlalchemy_async_connection(
    postgres_server: PgServer, app: App, conn: asyncpg.Connection, driver: str
) -> None:
    sa_asyncio = pytest.importorskip("sqlalchemy.ext.asyncio")
    from sqlalchemy import text

    ship, _ = register(app)
    url = postgres_server.url.replace("postgresql://", f"postgresql+{driver}://")
    engine = sa_asyncio.create_async_engine(url)
    try:

        async def order_then_fail() -> None:
            async with engine.begin() as sconn:
                await sconn.execute(text(f"INSERT INTO {orders_of(app)} VALUES ('s1')"))
                await ship.enqueue("s1", connection=sconn)
                assert await pool_sees(app) == []
                raise RuntimeError("undo")

        with pytest.raises(RuntimeError, match="undo"):
            await order_then_fail()
        assert await pool_sees(app) == []
        assert await conn.fetchval(f"SELECT count(*) FROM {orders_of(app)}") == 0
        # enqueue first, before SQLAlchemy ran anything: still inside its transaction
        async with engine.begin() as sconn:
            job = await ship.enqueue("s2", connection=sconn)
            assert await pool_sees(app) == []
            await sconn.execute(text(f"INSERT INTO {orders_of(app)} VALUES ('s2')"))
            path = (await sconn.execute(text("SHOW search_path"))).scalar()
        assert await pool_sees(app) == [job.id]
        async with engine.connect() as sconn:
            assert (await sconn.execute(text("SHOW search_path"))).scalar() == path
            assert schema_of(app) not in path
    finally:
        await engine.dispose()


# -- what is refused -------------------------------------------------------------------------


async def test_other_stores_and_unknown_connections_are_refused(
    app: App, conn: asyncpg.Connection, postgres_server: PgServer
) -> None:
    ship, _ = register(app)
    for bad in (object(), "postgresql://x", 42):
        with pytest.raises(rota.ConfigError, match="connection must be an asyncpg Connection"):
            await ship.enqueue("x", connection=bad)
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(postgres_server.url) as blocking, pytest.raises(rota.ConfigError, match="blocking"):
        await ship.enqueue("x", connection=blocking)
    assert await pool_sees(app) == []

    memory = App(store=MemoryStore())
    other = memory.task(name="t")(lambda: None)
    with pytest.raises(rota.ConfigError, match="needs the PostgreSQL store; this app's store is memory"):
        await other.enqueue(connection=conn)
    with pytest.raises(rota.ConfigError, match="PostgreSQL store"):
        await memory.enqueue_many([], connection=conn)
    assert await memory.list_jobs() == []
    await memory.close()


async def test_a_database_without_the_schema_is_a_config_error(app: App, conn: asyncpg.Connection) -> None:
    ship, _ = register(app)
    await conn.execute(f'DROP SCHEMA "{schema_of(app)}" CASCADE')
    with pytest.raises(rota.ConfigError, match="no rota schema"):
        await ship.enqueue("x", connection=conn)


def test_qualified_statements_name_every_table_with_the_schema() -> None:
    sql = statement("jobs", "add_jobs", "s")
    assert '"s".jobs' in sql and "--" not in sql and "$13::text[]::jsonb[]" in sql
    for table in TABLES:
        unqualified = qualified(f"SELECT * FROM {table} JOIN {table} t ON true", "x")
        assert unqualified == f'SELECT * FROM "x".{table} JOIN "x".{table} t ON true'
    assert (
        qualified("SELECT 1 FROM unnest($1::jsonb[])", 'we"ird')
        == "SELECT 1 FROM unnest($1::text[]::jsonb[])"
    )
    assert qualified("INSERT INTO jobs", 'we"ird') == 'INSERT INTO "we""ird".jobs'


# -- the example on docs/postgres.md ----------------------------------------------------------


async def test_the_docs_example_runs_as_written(
    postgres_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_docs_snippets import titled_blocks

    [(title, code)] = titled_blocks("postgres.md")
    assert title == "shop.py"
    # a database of its own: the example names its tables plainly
    database = f"shop_{uuid.uuid4().hex[:12]}"
    await _admin(postgres_server.url, f'CREATE DATABASE "{database}"')
    url = postgres_server.url.rsplit("/", 1)[0] + f"/{database}"
    monkeypatch.setenv("ROTA_STORE_URL", url)
    namespace: dict[str, Any] = {"__name__": "shop"}
    exec(compile(code, str(tmp_path / title), "exec"), namespace)
    app: App = namespace["app"]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE orders (id serial PRIMARY KEY, item text, shipped boolean DEFAULT false);"
            "CREATE TABLE shipments (order_id int UNIQUE)"
        )
        await app.open()

        async def order_in_a_failing_transaction() -> None:
            async with conn.transaction():
                await conn.execute("INSERT INTO shipments VALUES (0)")
                await namespace["place_order"](conn, "lost")
                await conn.execute("INSERT INTO shipments VALUES (0)")  # the caller's transaction fails

        with pytest.raises(asyncpg.UniqueViolationError):
            await order_in_a_failing_transaction()
        assert await app.list_jobs() == []
        order_id = await namespace["place_order"](conn, "book")
        [job] = await app.list_jobs()
        async with app.worker():
            await app.wait_until_idle(timeout=WAIT)
        assert (await app.get_job(job.id)).status is JobStatus.SUCCEEDED
        assert await conn.fetchval("SELECT shipped FROM orders WHERE id = $1", order_id) is True
        assert await conn.fetchval("SELECT count(*) FROM shipments") == 1
    finally:
        await app.close()
        await conn.close()
        await _admin(postgres_server.url, f'DROP DATABASE "{database}" WITH (FORCE)')
