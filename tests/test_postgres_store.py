"""PostgreSQL-specific behaviour: URL options, migrations, claim plans, LISTEN/NOTIFY across
stores, transient failures and a real server restart. The shared contract is covered by the
conformance suite (tests/test_conformance.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from rota._errors import ConfigError, StoreUnavailable
from rota._ids import new_id
from rota._models import Finish, Job, JobFilter, JobStatus, LeaseRef, Outcome
from rota.stores import _resources
from rota.stores.postgres import PostgresStore, from_url
from rota.stores.postgres._codec import JOB_COLUMNS
from rota.stores.postgres._connection import is_transient
from rota.stores.postgres._wakeups import Listener
from rota.stores.url import store_from_url
from rota.testing import FakeClock
from rota.testing.conformance import Harness
from tests.servers._common import unavailable
from tests.servers.postgres import PgServer, remove_cluster, start_cluster, with_query

pytestmark = pytest.mark.postgres

WAIT = 10.0  # real seconds; reached only when a promised wake-up is missing


def query(name: str) -> str:
    """A statement of the store's, from whichever of its query files holds it."""
    for group in ("jobs", "schedules", "leases"):
        found = _resources.queries("rota.stores.postgres", group).get(name)
        if found is not None:
            return found
    raise KeyError(name)


def make_job(clock: FakeClock, **fields: Any) -> Job:
    now = clock.now()
    return Job(id=new_id(), task="t", due_at=now, created_at=now, **fields)


# -- URL options -----------------------------------------------------------------------------


def test_url_options_are_parsed_and_unknown_ones_refused() -> None:
    store = from_url("postgresql://u:secret@db.example:5433/app?schema=rota_x&pool_max=4")
    assert store.config.schema == "rota_x"
    assert store.config.pool_max == 4
    assert store.config.migrate is True
    assert "secret" not in store.describe()
    assert "rota_x" in store.describe()
    assert from_url("postgres://h/db?migrate=false&sslmode=disable").config.migrate is False
    with pytest.raises(ConfigError, match="unknown option 'shema'"):
        from_url("postgresql://h/db?shema=x")
    with pytest.raises(ConfigError, match="schema"):
        from_url("postgresql://h/db?schema=Bad-Name")
    with pytest.raises(ConfigError, match="migrate"):
        from_url("postgresql://h/db?migrate=maybe")
    with pytest.raises(ConfigError, match="pool_min"):
        from_url("postgresql://h/db?pool_min=5&pool_max=2")


def test_store_url_and_environment_pick_the_postgres_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(store_from_url("postgresql://h/db"), PostgresStore)
    monkeypatch.setenv("ROTA_STORE_URL", "postgres://h/db?schema=from_env")
    store = store_from_url(None)
    assert isinstance(store, PostgresStore)
    assert store.config.schema == "from_env"


def test_transient_errors_are_recognised() -> None:
    for exc in (
        asyncpg.exceptions.TooManyConnectionsError("too many connections"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        ConnectionResetError("reset by peer"),
    ):
        assert is_transient(exc), exc
    assert not is_transient(asyncpg.exceptions.UndefinedTableError("no such table"))
    assert not is_transient(ValueError("bad"))


# -- migrations --------------------------------------------------------------------------------


@pytest.fixture
async def fresh_url(postgres_server: PgServer) -> AsyncIterator[str]:
    """The URL of a schema that does not exist yet; dropped afterwards."""
    schema = f"m_{uuid.uuid4().hex[:12]}"
    yield with_query(postgres_server.url, schema=schema)
    conn = await asyncpg.connect(postgres_server.url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def test_concurrent_migrations_apply_each_version_once(fresh_url: str) -> None:
    stores = [from_url(fresh_url) for _ in range(4)]
    applied = await asyncio.gather(*(s.migrate() for s in stores))
    assert sorted(applied) == [[], [], [], [m.version for m in _resources.migrations("rota.stores.postgres")]]
    again = await stores[0].migrate()
    assert again == []


async def test_migrate_false_refuses_an_unmigrated_schema(fresh_url: str) -> None:
    store = from_url(fresh_url + "&migrate=false")
    with pytest.raises(ConfigError, match="rota db migrate"):
        await store.open()
    await from_url(fresh_url).migrate()
    await store.open()  # now at the latest version: fine
    await store.close()


async def test_a_success_recorded_before_version_2_keeps_its_one_attempt(fresh_url: str) -> None:
    """Version 2 records a success in the job row; a job that succeeded at version 1 has its
    attempt in attempts and no ``worker``: after the upgrade it still shows exactly that one."""
    first = _resources.migrations("rota.stores.postgres")[0]

    schema = fresh_url.split("schema=")[1]
    conn = await asyncpg.connect(fresh_url.split("?", maxsplit=1)[0])
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path TO "{schema}"')
        await conn.execute(first.sql)
        await conn.execute(
            "CREATE TABLE schema_version (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now());"
            "INSERT INTO schema_version (version, name) VALUES (1, '0001_init.sql')"
        )
        await conn.execute(
            "INSERT INTO jobs (id, task, queue, payload, priority, status, due_at, created_at,"
            " attempts, max_attempts, token, started_at, finished_at)"
            " VALUES ('old', 't', 'default', '', 0, 'succeeded', now(), now(), 1, 3, 1, now(), now());"
            "INSERT INTO attempts (job_id, number, worker, started_at, finished_at, outcome)"
            " VALUES ('old', 1, 'w-old', now(), now(), 'succeeded')"
        )
    finally:
        await conn.close()
    store = from_url(fresh_url)
    assert await store.migrate() == [m.version for m in _resources.migrations("rota.stores.postgres")][1:]
    await store.open()
    try:
        attempts = await store.get_attempts("old")
        assert [(a.number, a.worker, a.outcome) for a in attempts] == [(1, "w-old", Outcome.SUCCEEDED)]
    finally:
        await store.close()


async def test_the_jobs_table_has_the_codecs_columns_in_order(fresh_url: str) -> None:
    """The claim builds jobs positionally from ``jobs.*``: its columns are the job fields in
    order, with ``worker`` (no field) after ``result``, as the codec reads them."""
    import dataclasses

    from rota.stores.postgres._codec import JOB_WIDTH

    store = from_url(fresh_url)
    await store.migrate()
    schema = fresh_url.split("schema=")[1]
    conn = await asyncpg.connect(fresh_url.split("?", maxsplit=1)[0])
    try:
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = $1 AND table_name = 'jobs' ORDER BY ordinal_position",
            schema,
        )
    finally:
        await conn.close()
    fields = [f.name for f in dataclasses.fields(Job) if f.name != "defect"]  # derived, not stored
    assert [c for c in JOB_COLUMNS if c != "worker"] == fields
    assert [c["column_name"] for c in columns][:JOB_WIDTH] == list(JOB_COLUMNS)


async def test_claim_limited_plans_its_statements_once(fresh_url: str) -> None:
    """claim_limited runs with generic plans: planning its statements for every call's
    arguments cost several times running them (see migration 10)."""
    store = from_url(fresh_url)
    await store.migrate()
    schema = fresh_url.split("schema=")[1]
    conn = await asyncpg.connect(fresh_url.split("?", maxsplit=1)[0])
    try:
        config = await conn.fetchval(
            "SELECT p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = $1 AND p.proname = 'claim_limited'",
            schema,
        )
    finally:
        await conn.close()
    assert config is not None and "plan_cache_mode=force_generic_plan" in config


async def test_open_on_a_dead_server_raises_store_unavailable() -> None:
    store = from_url("postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2")
    with pytest.raises(StoreUnavailable):
        await store.open()


# -- the claim's plan ------------------------------------------------------------------------


async def _plan(conn: asyncpg.Connection, sql: str, *args: Any) -> str:
    rows = await conn.fetch("EXPLAIN (FORMAT JSON) " + sql, *args)
    return json.dumps(json.loads(rows[0][0]))


def _index_scans(node: Any) -> list[tuple[str, str]]:
    """(node type, index name) of every index scan in an EXPLAIN (FORMAT JSON) tree."""
    if isinstance(node, list):
        return [t for item in node for t in _index_scans(item)]
    if not isinstance(node, dict):
        return []
    found = [(node["Node Type"], node["Index Name"])] if "Index Name" in node else []
    for key in ("Plan", "Plans"):
        if key in node:
            found += _index_scans(node[key])
    return found


def _seq_scans(node: Any) -> list[str]:
    """Big tables read by a sequential scan anywhere in an EXPLAIN (FORMAT JSON) tree
    (``leases`` holds one row per lock name: scanning it is fine)."""
    if isinstance(node, list):
        return [t for item in node for t in _seq_scans(item)]
    if not isinstance(node, dict):
        return []
    found = [node["Relation Name"]] if node.get("Node Type") == "Seq Scan" else []
    for key in ("Plan", "Plans"):
        if key in node:
            found += _seq_scans(node[key])
    return [t for t in found if t != "leases"]


async def test_claim_and_hot_statements_use_indexes_on_a_big_table(postgres_harness: Harness) -> None:
    store = postgres_harness.store
    assert isinstance(store, PostgresStore)
    now = postgres_harness.clock.now()
    async with store._connection.conn() as conn:
        # 20k jobs (enough for the planner to weigh a table scan against the indexes):
        # most finished, some running, the rest a backlog of due jobs in several
        # queues (where a plan that sorts every due job instead of walking the index in
        # claim order would cost more as the backlog grows)
        await conn.execute(
            """
            INSERT INTO jobs (id, task, queue, payload, priority, status, due_at, created_at,
                              attempts, max_attempts, token, finished_at, lease_owner,
                              lease_expires_at)
            SELECT lpad(to_hex(g), 32, '0'), 't', 'q' || (g % 4), '\\x6e756c6c', g % 3,
                   CASE WHEN g % 10 < 7 THEN 'succeeded'
                        WHEN g % 10 = 7 THEN 'running' ELSE 'pending' END,
                   $1::timestamptz - (g % 1000) * interval '1 second', $1, 1, 1, 1,
                   CASE WHEN g % 10 < 7 THEN $1::timestamptz END,
                   CASE WHEN g % 10 = 7 THEN 'w' END,
                   CASE WHEN g % 10 = 7 THEN $1::timestamptz + interval '1 hour' END
            FROM generate_series(1, 20000) g
            """,
            now,
        )
        await conn.execute(
            """
            INSERT INTO schedules (id, task, trigger, queue, payload, priority, misfire,
                                   misfire_grace, max_catchup, jitter, overlap, origin,
                                   next_fire_at, run_count, fail_count, paused, version)
            SELECT 's' || g, 't', 'every:60', 'q1', '\\x6e756c6c', 0, 'skip', 60, 1, 0,
                   'allow', 'api', $1::timestamptz + g * interval '1 second', 0, 0, false, 1
            FROM generate_series(1, 5000) g
            """,
            now,
        )
        claim_args = (["q1"], "w", 100, now + timedelta(seconds=30), now)
        # before the statistics catch up (a queue that just grew) and after
        for analyzed in (False, True):
            if analyzed:
                await conn.execute("ANALYZE jobs")
                await conn.execute("ANALYZE schedules")
            plan = await _plan(conn, query("claim"), *claim_args)
            scans = _index_scans(json.loads(plan))
            # walked in claim order, stopping at LIMIT: an ordered index scan, never a
            # bitmap scan (which needs a sort of every due job)
            assert ("Index Scan", "jobs_claim") in scans, (analyzed, plan)
            assert ("Bitmap Index Scan", "jobs_claim") not in scans, (analyzed, plan)
            assert any(index == "jobs_lease" for _, index in scans), (analyzed, plan)
        # no statement on the hot path may scan a whole table, whatever its join strategy
        ids = [f"{g:032x}" for g in range(1, 101)]
        nones: list[Any] = [None] * 100
        statements: list[tuple[str, tuple[Any, ...]]] = [
            ("claim", (["q1", "q2"], "w", 100, now, now)),
            ("heartbeat", (ids, [1] * 100, now, now)),
            ("release", (ids, [1] * 100, "c", now)),
            ("finish", (ids, [1] * 100, ["failed"] * 100, ["failed"] * 100,
                        *[nones] * 9, "w", now, "c", nones, nones, "e")),
            ("finish_succeeded", (ids, [1] * 100, nones, "w", now, "c", "e")),
            ("add_jobs", (ids, ["t"] * 100, ["q1"] * 100, [b"null"] * 100, [0] * 100,
                          [now] * 100, [now] * 100, [1] * 100, [f"k{i}" for i in range(100)],
                          nones, nones, nones, nones, [f"c{i}" for i in range(100)], [2] * 100,
                          nones, nones, nones, "c")),
            ("set_progress", (ids[0], 1, 0.5, "half", now)),
            ("purge", (now, 1000)),
            ("next_due", (["q1", "q2"], 1000)),
            ("count_delayed", (["q0", "q1", "q2", "q3"], now - timedelta(seconds=500))),
            ("acquire_schedules", ("o", 100, now, now, None, None, None)),
            ("acquire_schedules", ("o", 100, now, now, "leader:x", "a", 3)),
            ("cancel", (ids[0], now, "c", "e")),
            ("requeue", (ids[0], now, "c")),
        ]  # fmt: skip
        for name, args in statements:
            plan = await _plan(conn, query(name), *args)
            assert not _seq_scans(json.loads(plan)), (name, plan)
    # and the claim does what the plan says
    claimed = await store.claim(
        queues=["q1"], worker="w", limit=100, lease_for=timedelta(seconds=30), now=now
    )
    assert len(claimed) == 100
    assert all(j.queue == "q1" for j in claimed)
    assert [j.priority for j in claimed] == sorted((j.priority for j in claimed), reverse=True)


# -- one-job adds on the spare connection -------------------------------------------------------


async def test_one_job_adds_share_the_spare_connection_and_concurrent_ones_the_pool(
    postgres_harness: Harness,
) -> None:
    """``task.enqueue()`` skips the pool's acquire and release (they cost about as much as
    the INSERT): one spare connection, taken and given back by a flag. Adds that overlap
    take pooled connections meanwhile."""
    store = postgres_harness.store
    assert isinstance(store, PostgresStore)
    db = store._connection
    await store.add([make_job(postgres_harness.clock)], now=postgres_harness.clock.now())
    spare = db._spare
    assert spare is not None
    for _ in range(3):
        await store.add([make_job(postgres_harness.clock)], now=postgres_harness.clock.now())
    assert db._spare is spare and not db._spare_busy
    jobs = [make_job(postgres_harness.clock) for _ in range(40)]
    results = await asyncio.gather(*(store.add([j], now=postgres_harness.clock.now()) for j in jobs))
    assert all(r.created for (r,) in results)
    assert db._spare is spare and not db._spare_busy
    stored = await store.list_jobs(JobFilter(limit=100))
    assert {j.id for j in jobs} <= {j.id for j in stored}


async def test_an_add_cancelled_on_the_spare_connection_closes_it_and_writes_once(
    postgres_harness: Harness,
) -> None:
    """A call cut off mid-statement leaves the connection in an unknown state: the spare is
    closed (after asyncpg's cancel request: the statement is stopped where it waits, as on
    a pooled connection), the next add makes a new one, and the job is there once (the
    cancelled add may have committed first: a cancelled enqueue may or may not exist)."""
    store = postgres_harness.store
    assert isinstance(store, PostgresStore)
    db = store._connection
    clock = postgres_harness.clock
    await store.add([make_job(clock)], now=clock.now())
    first = db._spare
    assert first is not None
    holder = await db.connect()
    try:
        tx = holder.transaction()
        await tx.start()
        # an uncommitted job holding the key: an add of that key waits for this transaction
        await store.add_on(holder, [make_job(clock, key="k")], now=clock.now())
        waiting = asyncio.ensure_future(store.add([make_job(clock, key="k")], now=clock.now()))
        # the server tells no one that a statement waits on a lock: ask it until it does
        while not await holder.fetchval(  # noqa: ASYNC110
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid = $1",
            first.get_server_pid(),
        ):
            await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert db._spare is None and not db._spare_busy
        await tx.rollback()
    finally:
        await holder.close()
    (result,) = await store.add([make_job(clock, key="k")], now=clock.now())
    assert result.job.key == "k"
    assert db._spare is not None and db._spare is not first
    await asyncio.wait_for(asyncio.gather(*db._closing), WAIT)
    assert first.is_closed()
    assert [j.key for j in await store.list_jobs(JobFilter(key="k"))] == ["k"]


# -- wake-ups across stores ------------------------------------------------------------------


async def _drain(store: PostgresStore) -> None:
    while await store.wait_for_jobs(0):
        pass


async def _listening(store: PostgresStore) -> Listener:
    """The store's LISTEN connection, once it is up (the first wait starts it)."""
    await store.wait_for_jobs(0)
    listener = store._wakeups
    assert listener is not None
    await asyncio.wait_for(listener.ready.wait(), WAIT)
    return listener


async def test_a_store_listens_only_once_it_waits_or_watches(postgres_harness: Harness) -> None:
    """A process that only enqueues never opens the LISTEN connection (nor wakes up for
    each of its own NOTIFYs); the first wait opens it, a watch of ended jobs too (a busy
    worker may never wait), and from then on another store's add wakes it."""
    a = postgres_harness.store
    b, c = await postgres_harness.another(), await postgres_harness.another()
    assert isinstance(b, PostgresStore) and isinstance(c, PostgresStore)
    for store in (b, c):
        await store.add([make_job(postgres_harness.clock)], now=postgres_harness.clock.now())
        assert store._wakeups is not None and store._wakeups.connections == 0
    await _drain(b)  # its own adds woke it locally; the first wait starts listening
    await asyncio.wait_for(b._wakeups.ready.wait(), WAIT)
    assert b._wakeups.connections == 1 and c._wakeups.connections == 0
    await _drain(b)
    await a.add([make_job(postgres_harness.clock)], now=postgres_harness.clock.now())
    assert await b.wait_for_jobs(WAIT)
    ended: list[str | None] = []
    unwatch = c.watch_ended(ended.append)
    try:
        await asyncio.wait_for(c._wakeups.ready.wait(), WAIT)
        assert c._wakeups.connections == 1
    finally:
        unwatch()


async def test_notify_wakes_a_waiter_in_another_store(postgres_harness: Harness) -> None:
    a = postgres_harness.store
    b = await postgres_harness.another()
    assert isinstance(b, PostgresStore)
    await _drain(b)
    await a.add([make_job(postgres_harness.clock)], now=postgres_harness.clock.now())
    assert await b.wait_for_jobs(WAIT)


async def test_a_dropped_listener_wakes_waiters_and_reconnects(
    postgres_harness: Harness, postgres_server: PgServer
) -> None:
    a = postgres_harness.store
    b = await postgres_harness.another()
    assert isinstance(b, PostgresStore)
    listener = await _listening(b)
    assert listener._conn is not None
    pid = listener._conn.get_server_pid()
    await _drain(b)
    waiter = asyncio.create_task(b.wait_for_jobs(WAIT))
    await asyncio.sleep(0)
    admin = await asyncpg.connect(postgres_server.url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    assert await waiter  # woken by the drop itself: the caller re-checks at once
    await asyncio.wait_for(listener.ready.wait(), WAIT)
    assert listener.connections == 2
    await _drain(b)
    await a.add([make_job(postgres_harness.clock)], now=postgres_harness.clock.now())
    assert await b.wait_for_jobs(WAIT)


async def test_wait_reconnected_returns_when_the_lost_listener_is_back(
    postgres_harness: Harness, postgres_server: PgServer
) -> None:
    """What lets a worker in an outage backoff resume as soon as the server is back."""
    store = postgres_harness.store
    assert isinstance(store, PostgresStore)
    listener = await _listening(store)
    assert listener._conn is not None
    reconnected = asyncio.ensure_future(store.wait_reconnected())
    done, _ = await asyncio.wait([reconnected], timeout=0.2)
    assert not done  # nothing was lost yet
    admin = await asyncpg.connect(postgres_server.url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", listener._conn.get_server_pid())
    finally:
        await admin.close()
    await asyncio.wait_for(reconnected, WAIT)
    assert listener.connections == 2


# -- purge never waits on the queue ------------------------------------------------------------


async def test_purge_skips_rows_locked_by_others(postgres_harness: Harness) -> None:
    store = postgres_harness.store
    assert isinstance(store, PostgresStore)
    clock = postgres_harness.clock
    jobs = [make_job(clock) for _ in range(3)]
    await store.add(jobs, now=clock.now())
    claimed = await store.claim(
        queues=["default"], worker="w", limit=3, lease_for=timedelta(seconds=30), now=clock.now()
    )
    done = [Finish(j.id, j.token, Outcome.SUCCEEDED) for j in claimed]
    assert await store.finish(done, worker="w", now=clock.now()) == [True] * 3
    await clock.advance(60)
    async with store._connection.conn() as locker, locker.transaction():
        await locker.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", jobs[0].id)
        purged = await asyncio.wait_for(store.purge(finished_before=clock.now()), WAIT)
        assert purged == 2
    assert await store.purge(finished_before=clock.now()) == 1
    assert await store.get_attempts(jobs[0].id) == []


# -- a real restart ----------------------------------------------------------------------------


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A cluster of this test's own: restarting the shared one would disturb other tests."""
    try:
        server = start_cluster()
    except (RuntimeError, OSError) as exc:
        unavailable("postgres", str(exc))
        raise AssertionError("unreachable") from None
    try:
        yield server
    finally:
        remove_cluster(server)


async def _eventually(op: Any) -> Any:
    """Run ``op``; a StoreUnavailable is allowed once (a connection that died in the restart)."""
    try:
        return await op()
    except StoreUnavailable:
        return await op()


@pytest.mark.slow
async def test_store_survives_a_server_restart(own_server: PgServer) -> None:
    clock = FakeClock()
    store = from_url(with_query(own_server.url, schema="rota", pool_min="2", pool_max="4"))
    other = from_url(with_query(own_server.url, schema="rota"))
    await store.open()
    await other.open()
    try:
        await _listening(other)  # a listening store, like an idle worker's
        jobs = [make_job(clock) for _ in range(10)]
        await store.add(jobs, now=clock.now())
        first = await store.claim(
            queues=["default"], worker="w", limit=4, lease_for=timedelta(seconds=30), now=clock.now()
        )
        assert len(first) == 4

        own_server.ctl("restart", "-m", "fast")

        # writes after the restart: at most one StoreUnavailable, then normal service
        async def finish_first() -> list[bool]:
            results = [Finish(j.id, j.token, Outcome.SUCCEEDED) for j in first]
            return await store.finish(results, worker="w", now=clock.now())

        assert await _eventually(finish_first) == [True] * 4

        async def claim_rest() -> list[Job]:
            return await store.claim(
                queues=["default"],
                worker="w",
                limit=10,
                lease_for=timedelta(seconds=30),
                now=clock.now(),
            )

        rest = await _eventually(claim_rest)
        assert len(rest) == 6
        assert await store.release([LeaseRef(j.id, j.token) for j in rest], now=clock.now()) == 6

        # while the server is down: StoreUnavailable, promptly, never a hang
        own_server.ctl("stop", "-m", "fast")
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(store.stats(), WAIT)
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(store.get_job(jobs[0].id), WAIT)
        own_server.ctl("start")
        stats = await _eventually(store.stats)
        assert stats.total(JobStatus.SUCCEEDED) == 4
        assert stats.total(JobStatus.PENDING) == 6  # nothing lost

        # the other store's listener came back too: a notification reaches it again
        listener = other._wakeups
        assert listener is not None
        await asyncio.wait_for(listener.ready.wait(), 30)
        await asyncio.wait_for(_drain(other), WAIT)
        await _eventually(lambda: store.add([make_job(clock)], now=clock.now()))
        assert await other.wait_for_jobs(WAIT)
    finally:
        await store.close()
        await other.close()


# -- claim corner: a job that dies of its lost lease does not use up the limit -------------------


async def test_a_success_has_one_attempt_whichever_finish_statement_wrote_it(
    postgres_harness: Harness,
) -> None:
    """A batch of plain successes takes finish_succeeded; a success batched with a failure
    takes finish. Either way the success is recorded once (in its job row), with its worker."""
    h = postgres_harness
    store = h.store
    jobs = [Job(id=new_id(), task="t", due_at=h.clock.now(), max_attempts=1) for _ in range(3)]
    await store.add(jobs, now=h.clock.now())
    claimed = await store.claim(
        queues=["default"], worker="w1", limit=3, lease_for=timedelta(seconds=30), now=h.clock.now()
    )
    assert len(claimed) == 3
    alone, mixed, failing = claimed
    now = h.clock.now()
    assert await store.finish([Finish(alone.id, alone.token, Outcome.SUCCEEDED)], worker="w1", now=now) == [
        True
    ]
    batch = [
        Finish(mixed.id, mixed.token, Outcome.SUCCEEDED),
        Finish(failing.id, failing.token, Outcome.FAILED),
    ]
    assert await store.finish(batch, worker="w1", now=now) == [True, True]
    for job in (alone, mixed):
        attempts = await store.get_attempts(job.id)
        assert [(a.number, a.worker, a.outcome) for a in attempts] == [(1, "w1", Outcome.SUCCEEDED)]
    assert [a.outcome for a in await store.get_attempts(failing.id)] == [Outcome.FAILED]


async def test_jobs_failed_by_a_claim_do_not_count_against_its_limit(
    postgres_harness: Harness,
) -> None:
    store, clock = postgres_harness.store, postgres_harness.clock
    doomed = make_job(clock, priority=2, max_attempts=1)
    second = make_job(clock, priority=1, max_attempts=5)
    third = make_job(clock, priority=0, max_attempts=5)
    await store.add([doomed, second, third], now=clock.now())
    lease = timedelta(seconds=10)
    got = await store.claim(queues=["default"], worker="w1", limit=2, lease_for=lease, now=clock.now())
    assert [j.id for j in got] == [doomed.id, second.id]
    await clock.advance(10)
    got = await store.claim(queues=["default"], worker="w2", limit=1, lease_for=lease, now=clock.now())
    assert [j.id for j in got] == [second.id]
    dead = await store.get_job(doomed.id)
    assert dead is not None and dead.status is JobStatus.FAILED
    assert [a.outcome for a in await store.get_attempts(doomed.id)] == [Outcome.LEASE_LOST]
    untouched = await store.get_job(third.id)
    assert untouched is not None and untouched.status is JobStatus.PENDING


# -- the foundation's multi-process kill test, on PostgreSQL ------------------------------------


@pytest.mark.slow
async def test_sigkill_of_one_of_three_workers_loses_no_job_on_postgres(
    postgres_server: PgServer, tmp_path: Path
) -> None:
    from tests.test_multiprocess_kill import run_kill_test

    schema = f"k_{uuid.uuid4().hex[:12]}"
    try:
        await run_kill_test(with_query(postgres_server.url, schema=schema), tmp_path)
    finally:
        conn = await asyncpg.connect(postgres_server.url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


def _node_types(node: Any) -> list[str]:
    if isinstance(node, list):
        return [t for item in node for t in _node_types(item)]
    if not isinstance(node, dict):
        return []
    found = [node["Node Type"]] if "Node Type" in node else []
    for key in ("Plan", "Plans"):
        if key in node:
            found += _node_types(node[key])
    return found


async def test_dashboard_reads_use_indexes_in_order_on_a_big_table(postgres_harness: Harness) -> None:
    """A page of list_jobs walks an index in id order and stops at LIMIT (no scan, no sort),
    whatever its filters and order, before and after the statistics catch up; count_finished
    reads a range of jobs_finished."""
    from rota.stores.postgres._jobs import find_query
    from tests.test_sqlite_store import DASHBOARD_FILTERS

    store = postgres_harness.store
    assert isinstance(store, PostgresStore)
    now = postgres_harness.clock.now()
    async with store._connection.conn() as conn:
        await conn.execute(
            """
            INSERT INTO jobs (id, task, queue, payload, priority, status, due_at, created_at,
                              attempts, max_attempts, token, finished_at, key, schedule_id)
            SELECT lpad(to_hex(g), 32, '0'), 't' || (g % 7), 'q' || (g % 4), '\\x6e756c6c', 0,
                   (ARRAY['succeeded', 'succeeded', 'succeeded', 'failed', 'pending',
                          'cancelled'])[g % 6 + 1],
                   $1, $1, 1, 1, 1,
                   CASE WHEN g % 6 <> 4 THEN $1::timestamptz - (g % 3600) * interval '1 second' END,
                   CASE WHEN g % 10 = 0 THEN 'k' || g END,
                   CASE WHEN g % 5 = 0 THEN 's' || (g % 3) END
            FROM generate_series(1, 30000) g
            """,
            now,
        )
        for analyzed in (False, True):
            if analyzed:
                await conn.execute("ANALYZE jobs")
            for fields in DASHBOARD_FILTERS:
                for newest in (False, True):
                    sql, args = find_query(JobFilter(limit=50, newest_first=newest, **fields))
                    tree = json.loads(await _plan(conn, sql, *args))
                    assert not _seq_scans(tree), (fields, newest, tree)
                    # before ANALYZE the planner may guess a filter matches few rows and sort them;
                    # a key names one job at most (a unique index): nothing to walk in order
                    if analyzed and "key" not in fields:
                        assert "Sort" not in _node_types(tree), (fields, newest, tree)
                    assert _index_scans(tree), (fields, newest, tree)
            counted = json.loads(
                # the last minutes of an hour of finished jobs (the whole hour: a scan is cheaper)
                await _plan(conn, query("count_finished"), now - timedelta(minutes=3), now, 60_000_000)
            )
            assert not _seq_scans(counted), counted
            assert any(index == "jobs_finished" for _, index in _index_scans(counted)), counted
    # and the answers are those of the plans
    page = await store.list_jobs(JobFilter(status=JobStatus.FAILED, queue="q1", newest_first=True, limit=5))
    assert [j.id for j in page] == sorted((j.id for j in page), reverse=True)
    assert len(page) == 5
    assert all((j.status, j.queue) == (JobStatus.FAILED, "q1") for j in page)
