"""SQLite-specific behaviour: URLs, pragmas, migrations, busy handling, several processes.

The shared behaviour of every store is in the conformance suite (tests/test_conformance.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rota._errors import ConfigError, StoreError, StoreUnavailable
from rota._ids import new_id
from rota._models import Finish, Job, JobFilter, JobStatus, LeaseRef, Outcome
from rota.stores import _resources
from rota.stores._resources import Migration
from rota.stores.sqlite import SQLiteConfig, SQLiteStore, from_url
from rota.stores.sqlite._migrate import migrate
from rota.stores.url import DEFAULT_URL, resolve_url, store_from_url

T0 = datetime(2030, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=30)
ROOT = Path(__file__).resolve().parent.parent


def migrations() -> tuple[Migration, ...]:
    return _resources.migrations("rota.stores.sqlite")


def queries(group: str) -> dict[str, str]:
    return _resources.queries("rota.stores.sqlite", group)


def make_jobs(n: int, *, queue: str = "default", max_attempts: int = 1) -> list[Job]:
    return [
        Job(id=new_id(), task="t", queue=queue, due_at=T0, created_at=T0, max_attempts=max_attempts)
        for _ in range(n)
    ]


@pytest.fixture
async def store(tmp_path: Path) -> SQLiteStore:
    s = SQLiteStore(tmp_path / "rota.db")
    await s.open()
    yield s  # type: ignore[misc]
    await s.close()


# -- URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///rota.db", "rota.db"),
        ("sqlite:///data/jobs.db", "data/jobs.db"),
        ("sqlite:////var/lib/rota/jobs.db", "/var/lib/rota/jobs.db"),
        ("sqlite:///my%20jobs.db", "my jobs.db"),
        ("SQLITE:///rota.db", "rota.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_url_paths(url: str, path: str) -> None:
    assert SQLiteConfig.from_url(url).path == path


def test_url_options() -> None:
    config = SQLiteConfig.from_url("sqlite:///x.db?busy_timeout=250&synchronous=FULL")
    assert config.busy_timeout == 0.25
    assert config.synchronous == "full"
    defaults = SQLiteConfig.from_url("sqlite:///x.db")
    assert defaults.busy_timeout == 5.0
    assert defaults.synchronous == "normal"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///x.db?busy=5", "unknown SQLite URL option"),
        ("sqlite:///x.db?busy_timeout=5&cache=shared", "unknown SQLite URL option"),
        ("sqlite:///x.db?busy_timeout=soon", "busy_timeout"),
        ("sqlite:///x.db?busy_timeout=-1", "busy_timeout"),
        ("sqlite:///x.db?synchronous=off", "synchronous"),
        ("sqlite:///x.db?busy_timeout=1&busy_timeout=2", "given twice"),
        ("sqlite://host/x.db", "names a host"),
        ("sqlite://", "no file path"),
        ("sqlite:///", "no file path"),
        ("postgresql:///x", "not a SQLite URL"),
    ],
)
def test_bad_urls_raise_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SQLiteConfig.from_url(url)


def test_store_from_url_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROTA_STORE_URL", raising=False)
    assert resolve_url(None) == DEFAULT_URL == "sqlite:///rota.db"
    store = store_from_url("sqlite:////tmp/rota-test/x.db?busy_timeout=100")
    assert isinstance(store, SQLiteStore)
    assert store.config.path == "/tmp/rota-test/x.db"
    assert store.config.busy_timeout == 0.1
    assert from_url("sqlite:///x.db").describe() == "sqlite:///x.db (WAL)"
    with pytest.raises(ConfigError):
        store_from_url("sqlite:///x.db?timeout=1")


# -- connection settings ---------------------------------------------------------------


async def pragma(store: SQLiteStore, name: str) -> object:
    return await store._connection.run(lambda conn: conn.execute(f"PRAGMA {name}").fetchone()[0])


async def test_wal_synchronous_foreign_keys_busy_timeout(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db", busy_timeout=timedelta(milliseconds=1234))
    await store.open()
    try:
        assert await pragma(store, "journal_mode") == "wal"
        assert await pragma(store, "synchronous") == 1  # NORMAL
        assert await pragma(store, "foreign_keys") == 1
        assert await pragma(store, "busy_timeout") == 1234
    finally:
        await store.close()
    # WAL is a property of the file: a plain connection sees it too
    with closing(sqlite3.connect(tmp_path / "x.db")) as raw, raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_runs_off_the_event_loop_thread(store: SQLiteStore) -> None:
    import threading

    loop_thread = threading.get_ident()
    worker_threads = {await store._connection.run(lambda conn: threading.get_ident()) for _ in range(3)}
    assert len(worker_threads) == 1
    assert loop_thread not in worker_threads


async def test_open_close_idempotent_and_closed_store_errors(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "x.db")
    await store.open()
    await store.open()
    await store.close()
    await store.close()
    with pytest.raises(StoreError, match="not open"):
        await store.get_job("x")


async def test_in_memory_store_is_private() -> None:
    store = from_url("sqlite:///:memory:")
    assert store.shared is False
    await store.open()
    try:
        jobs = make_jobs(2)
        await store.add(jobs, now=T0)
        claimed = await store.claim(queues=["default"], worker="w", limit=5, lease_for=LEASE, now=T0)
        assert {j.id for j in claimed} == {j.id for j in jobs}
    finally:
        await store.close()


async def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "missing-dir" / "x.db")
    with pytest.raises(ConfigError, match="does not exist"):
        await store.open()


async def test_unopenable_file_is_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "x.db").mkdir()  # a directory where the file should be
    store = SQLiteStore(tmp_path / "x.db")
    with pytest.raises(StoreUnavailable, match="unable to open"):
        await store.open()


# -- migrations --------------------------------------------------------------------------


def versions(path: Path) -> list[int]:
    with closing(sqlite3.connect(path)) as raw, raw:
        return [r[0] for r in raw.execute("SELECT version FROM schema_version ORDER BY version")]


async def test_migrations_are_versioned_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    expected = [m.version for m in migrations()]
    assert expected == sorted(set(expected)) and expected[0] == 1  # from 1 up, each once
    for _ in range(2):
        store = SQLiteStore(path)
        await store.open()
        await store.close()
        assert versions(path) == expected
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn) == expected[-1]
    finally:
        conn.close()
    assert versions(path) == expected


def test_a_new_migration_is_applied_once_in_order(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        base = migrations()
        extra = Migration(
            base[-1].version + 1,
            f"{base[-1].version + 1:04d}_extra.sql",
            "CREATE TABLE extra (n INTEGER);\nINSERT INTO extra VALUES (1);\n",
        )
        assert migrate(conn, base) == base[-1].version
        assert migrate(conn, (*base, extra)) == extra.version
        assert migrate(conn, (*base, extra)) == extra.version
        assert conn.execute("SELECT count(*) FROM extra").fetchone()[0] == 1
    finally:
        conn.close()


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        base = migrations()
        broken = Migration(
            base[-1].version + 1, "broken.sql", "CREATE TABLE half (n INTEGER);\nNOT SQL AT ALL;\n"
        )
        migrate(conn, base)
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, (*base, broken))
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == base[-1].version
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "half" not in tables
    finally:
        conn.close()


def test_a_version_numbered_below_the_latest_applied_one_is_still_applied(tmp_path: Path) -> None:
    # changes made side by side number their own migrations: a database that has 1, 2 and 4
    # gets 3 once a version of rota that has it opens it
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        base = migrations()
        top = base[-1].version
        late = Migration(top + 1, f"{top + 1:04d}_late.sql", "CREATE TABLE late (n INTEGER);\n")
        last = Migration(top + 2, f"{top + 2:04d}_last.sql", "CREATE TABLE last (n INTEGER);\n")
        assert migrate(conn, (*base, last)) == last.version
        assert migrate(conn, (*base, late, last)) == last.version
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert {"late", "last"} <= tables
        done = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert done[-2:] == [late.version, last.version]
    finally:
        conn.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    with closing(sqlite3.connect(path)) as raw, raw:
        raw.execute("INSERT INTO schema_version (version, name) VALUES (999, 'future.sql')")
    with pytest.raises(StoreError, match="newer than this rota supports"):
        await SQLiteStore(path).open()


# -- several processes -------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from datetime import datetime, timedelta, UTC
    from rota._models import Finish, Outcome
    from rota.stores.sqlite import SQLiteStore

    async def main(path, mode, worker):
        store = SQLiteStore(path, busy_timeout=30)
        print("ready", flush=True)
        sys.stdin.readline()  # start line: every child opens at the same moment
        await store.open()
        if mode == "open":
            print("opened", flush=True)
            await store.close()
            return
        now = datetime(2030, 1, 1, tzinfo=UTC)
        while True:
            jobs = await store.claim(queues=["default"], worker=worker, limit=10,
                                     lease_for=timedelta(hours=1), now=now)
            if not jobs:
                break
            print(json.dumps([[j.id, j.token] for j in jobs]), flush=True)
            if mode == "claim+finish":
                done = [Finish(j.id, j.token, Outcome.SUCCEEDED) for j in jobs]
                await store.finish(done, worker=worker, now=now)
        print("done", flush=True)
        await store.close()

    asyncio.run(main(*sys.argv[1:]))
    """
)


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    """Child processes started by a test; any still running at the end are killed."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def spawn(children: list[subprocess.Popen[str]], path: Path, mode: str, worker: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), mode, worker],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    children.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def start_all(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


@pytest.mark.slow
def test_processes_migrating_a_new_file_at_once(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    path = tmp_path / "new.db"
    procs = [spawn(children, path, "open", f"p{i}") for i in range(4)]
    start_all(procs)
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert out.strip() == "opened"
    assert versions(path) == [m.version for m in migrations()]


@pytest.mark.slow
async def test_claims_are_atomic_across_processes(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    path = tmp_path / "x.db"
    store = SQLiteStore(path)
    await store.open()
    jobs = make_jobs(600)
    await store.add(jobs, now=T0)
    procs = [spawn(children, path, "claim", f"p{i}") for i in range(3)]
    start_all(procs)
    claimed: list[str] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        lines = out.splitlines()
        assert lines[-1] == "done"
        for line in lines[:-1]:
            claimed.extend(job_id for job_id, token in json.loads(line) if token == 1)
    assert len(claimed) == len(set(claimed)) == len(jobs)
    await store.close()


@pytest.mark.slow
async def test_sigkilled_worker_loses_no_job(tmp_path: Path, children: list[subprocess.Popen[str]]) -> None:
    path = tmp_path / "x.db"
    store = SQLiteStore(path)
    await store.open()
    jobs = make_jobs(5000, max_attempts=2)
    await store.add(jobs, now=T0)
    proc = spawn(children, path, "claim+finish", "victim")
    start_all([proc])
    assert proc.stdout is not None
    for _ in range(20):  # let it get well into its work, then kill it mid-stride
        assert proc.stdout.readline().startswith("[")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)

    stats = await store.stats()
    assert sum(stats.counts["default"].values()) == len(jobs)
    assert stats.total(JobStatus.SUCCEEDED) >= 190
    # after the dead worker's leases expire, everything left is claimed and finished
    later = T0 + timedelta(hours=2)
    while batch := await store.claim(
        queues=["default"], worker="rescuer", limit=500, lease_for=LEASE, now=later
    ):
        done = [Finish(j.id, j.token, Outcome.SUCCEEDED) for j in batch]
        assert all(await store.finish(done, worker="rescuer", now=later))
    stats = await store.stats()
    assert stats.counts["default"] == {JobStatus.SUCCEEDED: len(jobs)}
    # the batch in flight when it died shows up as lost attempts, numbered by the old token
    lost = await store._connection.run(
        lambda conn: conn.execute(
            "SELECT count(*), max(number) FROM attempts WHERE outcome = 'lease_lost'"
        ).fetchone()
    )
    assert lost[0] <= 10
    assert lost[1] in (None, 1)
    ok = await store._connection.run(lambda conn: conn.execute("PRAGMA integrity_check").fetchone()[0])
    assert ok == "ok"
    await store.close()


# -- busy handling -----------------------------------------------------------------------


async def test_locked_database_is_store_unavailable_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    store = SQLiteStore(path, busy_timeout=0.05)
    await store.open()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.add(make_jobs(1), now=T0)
        # reads still work in WAL mode while someone writes
        assert await store.get_job("nope") is None
        holder.execute("ROLLBACK")
        results = await store.add(make_jobs(1), now=T0)
        assert results[0].created
    finally:
        holder.close()
        await store.close()


# -- enqueues on the caller's thread (_inline.py) ------------------------------------------


async def test_an_enqueue_is_written_on_the_callers_thread_while_the_database_is_free(
    store: SQLiteStore,
) -> None:
    """No hop to the store's thread and back while the write lock is free. The first add
    takes the store's thread, where the second connection is made (opening a file may wait
    for its lock, which the event loop never does)."""
    await store.add(make_jobs(1), now=T0)
    await store._connection.run(lambda conn: None)  # the connection is made: queued before this
    inline = store._connection._inline
    assert inline is not None
    before = inline._commits
    results = [await store.add(make_jobs(1), now=T0) for _ in range(5)]
    assert inline._commits == before + 5 and all(r.created for (r,) in results)
    assert await store.get_job(results[-1][0].job.id) == results[-1][0].job


async def test_enqueues_written_inline_still_let_the_loop_run(store: SQLiteStore) -> None:
    """Each enqueue gives the loop a turn, as the hop did: a loop of 200 enqueues must not
    keep a heartbeat (or a web request) waiting until it ends."""
    await store.add(make_jobs(1), now=T0)
    await store._connection.run(lambda conn: None)
    ticks: list[int] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            ticks.append(1)
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    gave_a_turn = 0
    for _ in range(200):
        seen = len(ticks)
        await store.add(make_jobs(1), now=T0)
        gave_a_turn += len(ticks) > seen
    stop.set()
    await task
    assert gave_a_turn == 200  # the ticker ran during every one of them


async def test_an_inline_connection_that_cannot_be_made_turns_the_shortcut_off(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever opening the second connection raises (here the StoreError of a file that
    refuses WAL, which is no sqlite3.Error), enqueues go on through the store's thread and
    the shortcut is off; nothing is left for the event loop to report."""
    inline = store._connection._inline
    assert inline is not None and inline.enabled

    def refuse(config: SQLiteConfig) -> sqlite3.Connection:
        raise StoreError("SQLite refused WAL mode (journal_mode is 'delete')")

    inline._connect = refuse
    caplog.set_level("DEBUG", logger="rota.stores.sqlite")
    added = [await store.add(make_jobs(1), now=T0) for _ in range(3)]
    await store._connection.run(lambda conn: None)  # the attempt to connect has run
    assert not inline.enabled and inline._conn is None and inline._commits == 0
    assert "inline SQLite writes disabled: SQLite refused WAL mode" in caplog.text
    more = await store.add(make_jobs(1), now=T0)
    for (result,) in [*added, more]:
        assert result.created and await store.get_job(result.job.id) == result.job


@pytest.mark.parametrize("kind", ["synchronous=full", "memory"])
async def test_stores_whose_commits_wait_write_on_their_thread(tmp_path: Path, kind: str) -> None:
    """A commit that syncs the disk (synchronous=full) belongs on the store's thread; an
    in-memory database has no second connection."""
    path = ":memory:" if kind == "memory" else tmp_path / "f.db"
    store = SQLiteStore(path, synchronous="normal" if kind == "memory" else "full")
    await store.open()
    try:
        ran: list[int] = []
        asyncio.get_running_loop().call_soon(ran.append, 1)
        (result,) = await store.add(make_jobs(1), now=T0)
        assert ran == [1] and result.created  # the loop ran while the add was away
    finally:
        await store.close()


async def test_an_enqueue_while_another_connection_writes_waits_on_the_store_thread(tmp_path: Path) -> None:
    """The caller's thread never waits for the write lock: the add goes to the store's
    thread, which waits (busy timeout) while the loop runs on, and writes it once."""
    path = tmp_path / "x.db"
    store = SQLiteStore(path)
    await store.open()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        adding = asyncio.ensure_future(store.add(make_jobs(1), now=T0))
        for _ in range(20):  # the event loop keeps running meanwhile
            await asyncio.sleep(0)
        assert not adding.done()
        holder.execute("COMMIT")
        (result,) = await asyncio.wait_for(adding, 10)
        assert result.created
        assert [j.id for j in await store.list_jobs(JobFilter())] == [result.job.id]
    finally:
        holder.close()
        await store.close()


async def test_enqueues_on_the_callers_thread_keep_the_wal_bounded(tmp_path: Path) -> None:
    """The inline connection never checkpoints; the store's thread does, every
    CHECKPOINT_EVERY inline commits, and the WAL then starts over. Without that, 1,500
    one-job enqueues grew the WAL to 50 MB (about 33 KB per commit)."""
    path = tmp_path / "wal.db"
    store = SQLiteStore(path)
    await store.open()
    try:
        largest = 0
        for _ in range(1_500):
            await store.add(make_jobs(1), now=T0)
            largest = max(largest, os.path.getsize(f"{path}-wal"))  # noqa: ASYNC240 - a stat, measured
        assert largest < 10_000_000, largest
        assert (await store.stats()).total(JobStatus.PENDING) == 1_500
    finally:
        await store.close()


async def test_a_failed_batch_writes_nothing(store: SQLiteStore) -> None:
    jobs = make_jobs(3)
    await store.add(jobs[:1], now=T0)
    # an existing id is no failure (add is idempotent per id): a trigger makes the middle
    # insert of the batch fail instead, after the first one was written in the transaction
    refused = jobs[2].id

    def arm(conn: sqlite3.Connection) -> None:
        conn.execute(
            f"CREATE TRIGGER refuse BEFORE INSERT ON jobs WHEN NEW.id = '{refused}' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )

    await store._connection.run(arm)
    with pytest.raises(StoreError):
        await store.add([jobs[1], jobs[2]], now=T0)  # all or none
    assert await store.get_job(jobs[1].id) is None
    assert await store.get_job(jobs[2].id) is None
    assert await store.get_job(jobs[0].id) == jobs[0]


# -- query plans -------------------------------------------------------------------------


async def plan(store: SQLiteStore, sql: str, args: object) -> str:
    def explain(conn: sqlite3.Connection) -> str:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", args).fetchall()
        return " | ".join(r[-1] for r in rows)

    return await store._connection.run(explain)


async def test_hot_queries_use_their_indexes(store: SQLiteStore) -> None:
    jq, sq = queries("jobs"), queries("schedules")
    now = {"queue": "q", "now": 0, "limit": 10, "worker": "w", "expires": 1}
    claim = await plan(store, jq["claim_pending"], now)
    assert "jobs_claim" in claim
    assert "TEMP B-TREE" not in claim  # no sort: the index is in claim order
    assert "jobs_lease" in await plan(store, jq["any_expired"], now)
    due = await plan(store, jq["next_pending_due"], {"queue": "q"})
    assert "jobs_claim" in due
    assert "SCAN jobs" not in due
    assert "jobs_claim" in await plan(store, jq["pending_candidates"], now)
    delayed = await plan(store, jq["count_delayed"], {"queue": "q", "now": 0})
    assert "jobs_claim" in delayed
    assert "SCAN jobs" not in delayed
    fenced = {"owner": "o", "expires": 1, "now": 0, "limit": 10, "fence_name": "leader:x", "fence_token": 3}
    acquire = await plan(store, sq["acquire_schedules"], fenced)
    assert "schedules_due" in acquire
    assert "SCAN schedules" not in acquire
    wake = await plan(store, sq["next_schedule_due"], ())
    assert "schedules_wake" in wake
    assert "TEMP B-TREE" not in wake
    assert "jobs_finished" in await plan(store, jq["purge"], {"before": 0, "limit": 10})


#: Statements allowed to read a whole table, and why; every other statement of the store
#: must reach its rows through an index (issue 16: flat from 10,000 to 1,000,000 jobs).
WHOLE_TABLE_READS = {
    ("jobs", "recount"): "repairs the status counts from the rows: a scan by design",
    ("schedules", "list_schedules"): "the admin listing of every schedule",
    ("workers", "any_expired"): "the registry of live workers: one row per worker",
    ("workers", "delete_expired"): "the registry of live workers: one row per worker",
    ("workers", "live_workers"): "the registry of live workers: one row per worker",
}


async def test_no_statement_scans_a_whole_table_but_the_allowed_ones(store: SQLiteStore) -> None:
    """The EXPLAIN guard of every statement in queries/*.sql (PostgreSQL has its own in
    test_postgres_store.py): a new statement that scans jobs, attempts or schedules fails
    here unless WHOLE_TABLE_READS names it. SQLite plans do not depend on the bound values,
    so zeros stand for every parameter. (Templates, with ``{...}`` parts filled in by code,
    are checked where they are built.)"""
    scans: dict[tuple[str, str], list[str]] = {}
    checked = 0
    for group in ("jobs", "schedules", "leases", "workers"):
        for name, sql in queries(group).items():
            if "{" in sql:
                continue
            named = re.findall(r"[:$@](\w+)", sql)
            args: object = dict.fromkeys(named, 0) if named else (0,) * sql.count("?")
            steps = (await plan(store, sql, args)).split(" | ")
            checked += 1
            # (a CTE's rows and job_counts, a row per queue and status, are small by design)
            whole = [s for s in steps if re.match(r"SCAN (jobs|attempts|schedules|leases|workers)$", s)]
            if whole:
                scans[group, name] = whole
    assert checked > 40
    assert scans.keys() == WHOLE_TABLE_READS.keys(), scans


async def test_heartbeat_and_release_are_conditional_on_token(store: SQLiteStore) -> None:
    await store.add(make_jobs(2), now=T0)
    a, b = await store.claim(queues=["default"], worker="w", limit=2, lease_for=LEASE, now=T0)
    lost = await store.heartbeat(
        [LeaseRef(a.id, a.token), LeaseRef(b.id, b.token + 1)], lease_for=LEASE, now=T0
    )
    assert lost == [b.id]
    assert await store.release([LeaseRef(a.id, a.token + 1), LeaseRef(b.id, b.token)], now=T0) == 1
    again = await store.get_job(b.id)
    assert again is not None
    assert again.status is JobStatus.PENDING
    assert again.attempts == 0


async def test_wakeups_are_in_process(store: SQLiteStore) -> None:
    waiter = asyncio.ensure_future(store.wait_for_jobs(30))
    await asyncio.sleep(0)
    await store.add(make_jobs(1), now=T0)
    assert await waiter


_ADD_ONE = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime
    from rota._ids import new_id
    from rota._models import Job
    from rota.stores.sqlite import SQLiteStore

    async def main(path):
        store = SQLiteStore(path)
        await store.open()
        now = datetime.now(UTC)
        await store.add([Job(id=new_id(), task="t", queue="default", due_at=now, created_at=now)], now=now)
        await store.close()

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.mark.slow
async def test_a_job_added_by_another_process_wakes_a_waiter(tmp_path: Path) -> None:
    """A SQLite file cannot signal another process; the waiter watches PRAGMA data_version
    (issue 16: idle pickup across processes was the 100 ms poll, p99 101 ms)."""
    path = tmp_path / "rota.db"
    store = SQLiteStore(path)
    await store.open()
    try:
        while await store.wait_for_jobs(0):  # whatever happened before (the migrations)
            pass
        waiter = asyncio.ensure_future(store.wait_for_jobs(60))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiter.done()  # nothing committed: it waits
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", _ADD_ONE, str(path), env=env)
        assert await asyncio.wait_for(child.wait(), 60) == 0
        assert await asyncio.wait_for(waiter, 30)  # woken: a wait of 60 s would return False
        assert (
            len(
                await store.claim(
                    queues=["default"], worker="w", limit=5, lease_for=LEASE, now=T0 + timedelta(days=9999)
                )
            )
            == 1
        )
    finally:
        await store.close()


async def test_a_commit_after_cancelled_waits_still_wakes_the_next_waiter(tmp_path: Path) -> None:
    """A worker's wait is often cancelled (its sleep until a due time won): the watch
    thread must never spend a change on a waiter that is gone. An early version did, and
    the next waiter slept its whole timeout (delayed jobs started 1 s late)."""
    store, other = SQLiteStore(tmp_path / "rota.db"), SQLiteStore(tmp_path / "rota.db")
    await store.open()
    await other.open()
    try:
        for i in range(30):
            while await store.wait_for_jobs(0):
                pass
            gone = asyncio.ensure_future(store.wait_for_jobs(60))
            for _ in range(i % 4):
                await asyncio.sleep(0)
            gone.cancel()
            await other.add(make_jobs(1), now=T0)  # another connection: no local wake-up
            assert await asyncio.wait_for(store.wait_for_jobs(60), 10), i
    finally:
        await other.close()
        await store.close()


async def test_a_cancelled_wait_cleaning_up_late_leaves_the_next_waiter_armed(tmp_path: Path) -> None:
    """Regression: a cancelled wait's cleanup runs at the loop's next turn, which may come
    after the next wait armed (nothing yielded in between: ``await`` of a coroutine in the
    same task, as ``asyncio.wait_for`` does from Python 3.12 on). It cleared whichever waiter
    was armed, so the next commit woke no one and the new waiter slept its whole timeout
    (seen as a failure of the test above on Python 3.13 once enqueues stopped yielding)."""
    store, other = SQLiteStore(tmp_path / "rota.db"), SQLiteStore(tmp_path / "rota.db")
    await store.open()
    await other.open()
    try:
        while await store.wait_for_jobs(0):
            pass
        gone = asyncio.ensure_future(store.wait_for_jobs(60))
        await asyncio.sleep(0)  # armed
        gone.cancel()  # its cleanup runs at the next turn of the loop...

        async def commit_after_that() -> None:
            for _ in range(3):
                await asyncio.sleep(0)
            await other.add(make_jobs(1), now=T0)

        adding = asyncio.ensure_future(commit_after_that())
        async with asyncio.timeout(10):
            assert await store.wait_for_jobs(60)  # ...after this waiter armed
        await adding
        assert gone.cancelled()
    finally:
        await other.close()
        await store.close()


async def test_the_watch_is_quiet_while_nothing_commits(store: SQLiteStore) -> None:
    """Only commits wake a waiter: a wait with nothing committed runs out (False), and so
    does the next one (no wake-up from the waiter's own checks)."""
    while await store.wait_for_jobs(0):
        pass
    assert not await store.wait_for_jobs(0.02)
    assert not await store.wait_for_jobs(0.02)
    await store.add(make_jobs(1), now=T0)
    assert await store.wait_for_jobs(0)


async def test_closing_closes_the_watch_connection_of_a_first_look(tmp_path: Path) -> None:
    """A wait answered by its first look (no watch thread started yet) opens the watch's
    connection; closing the store closes it too (Python 3.13 warned 'unclosed database' at
    garbage collection, which the test settings turn into a failure of whatever test runs)."""
    store = SQLiteStore(str(tmp_path / "w.db"))
    await store.open()
    watch = store._watch  # the store's own part under test
    assert watch is not None
    assert await store.wait_for_jobs(0)  # the first look: a change (nothing seen before)
    conn = watch._conn
    assert conn is not None and watch._thread is None
    await store.close()
    with pytest.raises(sqlite3.ProgrammingError):  # closed
        conn.execute("SELECT 1")


async def test_next_due_across_priorities_and_leases(store: SQLiteStore) -> None:
    def job(priority: int, delay: float, queue: str = "default") -> Job:
        due = T0 + timedelta(seconds=delay)
        return Job(id=new_id(), task="t", queue=queue, priority=priority, due_at=due, created_at=T0)

    assert await store.next_due(queues=["default"]) is None
    await store.add([job(5, 50), job(5, 40), job(0, 30), job(-3, 20), job(9, 60)], now=T0)
    await store.add([job(0, 10, queue="other")], now=T0)
    assert await store.next_due(queues=["default"]) == T0 + timedelta(seconds=20)
    assert await store.next_due(queues=["default", "other"]) == T0 + timedelta(seconds=10)
    at = T0 + timedelta(seconds=15)
    (running,) = await store.claim(
        queues=["other"], worker="w", limit=5, lease_for=timedelta(seconds=1), now=at
    )
    assert await store.next_due(queues=["other"]) == running.lease_expires_at
    assert await store.next_due(queues=["nothing-here"]) is None


def test_a_failed_commit_leaves_no_open_transaction(tmp_path: Path) -> None:
    from rota.stores.sqlite._connection import write

    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        conn.execute("CREATE TABLE child (pid INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)")
        with pytest.raises(sqlite3.IntegrityError), write(conn):
            conn.execute("INSERT INTO child VALUES (42)")  # only COMMIT notices
        assert not conn.in_transaction
        with write(conn):  # the connection is usable again
            conn.execute("INSERT INTO parent VALUES (1)")
        assert conn.execute("SELECT count(*) FROM child").fetchone()[0] == 0
    finally:
        conn.close()


async def test_stats_counts_stay_equal_to_a_recount(store: SQLiteStore) -> None:
    """job_counts is kept by hand on every change of status: drive every such path at random
    (claims over expired leases included) and compare with a full GROUP BY recount."""
    import random

    rng = random.Random(7)
    queues = ["a", "b", "c"]
    now = T0

    async def recount() -> dict[str, dict[JobStatus, int]]:
        rows = await store._connection.run(lambda conn: conn.execute(queries("jobs")["recount"]).fetchall())
        out: dict[str, dict[JobStatus, int]] = {}
        for queue, status, n in rows:
            out.setdefault(queue, {})[JobStatus(status)] = n
        return out

    running: list[Job] = []
    for step in range(300):
        op = rng.choice(["add", "add", "claim", "finish", "release", "cancel", "requeue", "purge"])
        if op == "add":
            batch = [
                Job(
                    id=new_id(),
                    task="t",
                    queue=rng.choice(queues),
                    due_at=now,
                    created_at=now,
                    max_attempts=rng.randint(1, 3),
                    key=rng.choice([None, f"k{rng.randint(0, 30)}"]),
                )
                for _ in range(rng.randint(1, 5))
            ]
            await store.add(batch, now=now)
        elif op == "claim":
            lease = timedelta(seconds=rng.choice([1, 60]))
            got = await store.claim(
                queues=rng.sample(queues, rng.randint(1, 3)),
                worker="w",
                limit=rng.randint(1, 6),
                lease_for=lease,
                now=now,
            )
            running.extend(got)
        elif op == "finish" and running:
            picked = [running.pop(rng.randrange(len(running))) for _ in range(min(3, len(running)))]
            results = [
                Finish(
                    j.id,
                    j.token,
                    rng.choice([Outcome.SUCCEEDED, Outcome.FAILED, Outcome.CANCELLED]),
                    retry_at=rng.choice([None, now + timedelta(seconds=1)]),
                )
                for j in picked
            ]
            await store.finish(results, worker="w", now=now)
        elif op == "release" and running:
            j = running.pop()
            await store.release([LeaseRef(j.id, j.token)], now=now)
        elif op == "cancel":
            jobs = await store.list_jobs(JobFilter(limit=500))
            live = [j for j in jobs if j.status in (JobStatus.PENDING, JobStatus.RUNNING)]
            if live:
                await store.cancel(rng.choice(live).id, now=now)
        elif op == "requeue":
            jobs = await store.list_jobs(JobFilter(limit=500))
            dead = [j for j in jobs if j.status in (JobStatus.FAILED, JobStatus.CANCELLED)]
            if dead:
                await store.requeue(rng.choice(dead).id, now=now)
        elif op == "purge":
            await store.purge(finished_before=now, limit=rng.randint(1, 4))
        now += timedelta(milliseconds=rng.choice([0, 500, 2000]))
        if step % 25 == 0:
            assert (await store.stats()).counts == await recount(), f"after step {step} ({op})"
    assert (await store.stats()).counts == await recount()


# every filter the dashboard's job list can set, alone and with the others it meets most
DASHBOARD_FILTERS = [
    {}, {"status": JobStatus.FAILED}, {"queue": "q"}, {"task": "t"}, {"schedule_id": "s"}, {"key": "k"},
    {"status": JobStatus.RUNNING, "queue": "q"}, {"status": JobStatus.FAILED, "task": "t"},
    {"queue": "q", "task": "t"}, {"after_id": "a"}, {"before_id": "b"}, {"after_id": "a", "before_id": "b"},
    {"status": JobStatus.PENDING, "after_id": "a", "before_id": "b"}, {"schedule_id": "s", "before_id": "b"},
]  # fmt: skip


async def test_dashboard_reads_use_indexes_in_order(store: SQLiteStore) -> None:
    """A page of list_jobs walks an index in id order (no scan of jobs, no sort), whatever
    its filters and order; count_finished and list_leases read ranges of their indexes."""
    from rota.stores.sqlite._jobs import find_query

    for fields in DASHBOARD_FILTERS:
        for newest in (False, True):
            sql, args = find_query(JobFilter(limit=50, newest_first=newest, **fields))  # type: ignore[arg-type]
            found = await plan(store, sql, args)
            # an index walked in order and left at LIMIT ("SCAN jobs USING INDEX"), never the table
            assert not re.search(r"SCAN jobs(?! USING)", found), (fields, newest, found)
            assert "TEMP B-TREE" not in found, (fields, newest, found)
            assert "INDEX" in found, (fields, newest, found)
            if set(fields) - {"after_id", "before_id"}:  # a filter: the index of one of its fields
                assert "SEARCH jobs USING INDEX jobs_" in found, (fields, newest, found)
    window = {"since": 0, "until": 60_000_000, "bucket": 60_000_000}
    counted = await plan(store, queries("jobs")["count_finished"], window)
    assert "jobs_finished" in counted
    assert "SCAN jobs" not in counted
    held = await plan(store, queries("leases")["list_leases"], {"now": 0})
    assert "leases_expiry" in held
    assert "SCAN leases" not in held


async def test_the_status_index_is_left_to_the_dashboard(store: SQLiteStore) -> None:
    """Migration 5's status index is on an expression only list_jobs names: on the plain
    column it drew the batch statements of the worker (heartbeat, finish, release, purge) away
    from their id lookups into a walk of every running or finished job."""
    jq = queries("jobs")
    batch = {"refs": "[]", "expires": 1, "now": 0}
    for name, args in (("heartbeat", batch), ("finish_candidates", batch), ("release_candidates", batch)):
        found = await plan(store, jq[name], {k: v for k, v in args.items() if f":{k}" in jq[name]})
        assert "jobs_status_id" not in found, (name, found)
        assert "sqlite_autoindex_jobs_1 (id=?)" in found, (name, found)
    assert "jobs_finished" in await plan(
        store, jq["purge_statuses"], {"before": 0, "limit": 1, "statuses": "[]"}
    )
