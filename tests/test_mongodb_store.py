"""MongoDB-store specifics beyond the conformance suite: the URL, indexes and prefixes,
wake-ups, outages, and recovery from a writer that crashed between its two writes.

Runs on FerretDB (tests/servers/mongodb.py) or on ``ROTA_MONGODB_URL``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from rota._errors import ConfigError, StoreUnavailable
from rota._models import Fence, Finish, FireCommit, JobFilter, JobStatus, Outcome, Schedule, schedule_key
from rota.stores import store_from_url
from rota.stores.mongodb import MongoStore, from_url
from rota.stores.mongodb._claim import claimed_doc
from rota.stores.mongodb._versioned import ROLL_FORWARD_AFTER
from rota.testing import FakeClock
from rota.testing.conformance import Harness
from rota.testing.conformance._support import add, claim, claim_one, finish, make_job, make_schedule, sec
from tests.servers._common import unavailable
from tests.servers.mongodb import MongoServer, database_url, drop_database, start_ferretdb

pytestmark = pytest.mark.mongodb


# -- the URL ------------------------------------------------------------------------------


def test_url_takes_prefix_and_passes_mongodb_options_through() -> None:
    store = store_from_url("mongodb://u:secret@127.0.0.1:1/jobsdb?prefix=app_1&retryWrites=true&w=majority")
    assert isinstance(store, MongoStore)
    assert (store.config.database, store.config.prefix) == ("jobsdb", "app_1")
    assert "retryWrites=true" in store.config.client_url
    assert "w=majority" in store.config.client_url
    assert "prefix" not in store.config.client_url
    assert "secret" not in store.describe()


def test_url_defaults() -> None:
    store = from_url("mongodb://127.0.0.1")
    assert (store.config.database, store.config.prefix) == ("rota", "rota")
    assert "serverSelectionTimeoutMS=5000" in store.config.client_url
    assert "socketTimeoutMS=30000" in store.config.client_url
    assert "socketTimeoutMS=90000" in from_url("mongodb://h/db?socketTimeoutMS=90000").config.client_url


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://127.0.0.1/db?lease=30",  # not a rota option and not a MongoDB one
        "mongodb://127.0.0.1/db?poll_interval=1",
        "mongodb://127.0.0.1/db?prefix=",
        "mongodb://127.0.0.1/db?prefix=9lives",
        "mongodb://127.0.0.1/db?prefix=a.b",
        "mongodb://127.0.0.1/db?serverSelectionTimeoutMS=soon",
        "mongodb://127.0.0.1/bad.name",
        "mongodb:///db",
    ],
)
def test_bad_urls_raise_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        from_url(url)


# -- against the server -------------------------------------------------------------------


@pytest.fixture
async def fresh_db(mongodb_server: MongoServer) -> AsyncIterator[str]:
    database = f"rota_t_{uuid.uuid4().hex[:16]}"
    yield database
    await drop_database(mongodb_server, database)


async def opened(url: str) -> MongoStore:
    store = from_url(url)
    try:
        await store.open()
    except StoreUnavailable as exc:
        unavailable("mongodb", str(exc))
    return store


async def test_open_is_idempotent_and_says_how_it_wakes(mongodb_server: MongoServer, fresh_db: str) -> None:
    url = database_url(mongodb_server, fresh_db)
    first, second = await opened(url), await opened(url)
    try:
        await first.open()  # again: nothing happens
        jobs = first._jobs.jobs
        names = set(await jobs.index_information())
        assert {"ukey", "claim", "due", "expiry", "finished", "schedule"} <= names
        assert "wake-ups: polling" in first.describe() or "wake-ups: change streams" in first.describe()
    finally:
        await first.close()
        await second.close()
        await first.close()  # idempotent


async def test_prefixes_keep_two_apps_apart_in_one_database(
    mongodb_server: MongoServer, fresh_db: str
) -> None:
    a = await opened(database_url(mongodb_server, fresh_db, "prefix=a"))
    b = await opened(database_url(mongodb_server, fresh_db, "prefix=b"))
    h = Harness(store=a, clock=FakeClock(), connect=lambda: asyncio.sleep(0, a))
    try:
        job = make_job(h, key="same")
        await add(h, job)
        assert await b.get_job(job.id) is None
        (res,) = await b.add([make_job(h, key="same")], now=h.clock.now())
        assert res.created  # the key is taken only under prefix a
        assert [j.id for j in await a.list_jobs(JobFilter())] == [job.id]
    finally:
        await a.close()
        await b.close()


async def test_another_process_is_woken_by_polling(mongodb_server: MongoServer, fresh_db: str) -> None:
    url = database_url(mongodb_server, fresh_db)
    waiter, writer = await opened(url), await opened(url)
    h = Harness(store=writer, clock=FakeClock(), connect=lambda: asyncio.sleep(0, writer))
    try:
        assert not await waiter.wait_for_jobs(0.0)  # learns the current state
        waiting = asyncio.create_task(waiter.wait_for_jobs(10.0))
        await asyncio.sleep(0)
        await add(h, make_job(h))
        assert await asyncio.wait_for(waiting, 10.0)  # woken well before the timeout
    finally:
        await waiter.close()
        await writer.close()


async def test_crashed_claimer_is_rolled_forward_never_doubled(mongodb_harness: Harness) -> None:
    """A claimer that won a job's mark and died before writing it: the job is not handed to
    anyone else while the mark is young; once it is old its claim is applied as won, and the
    job comes back only through that claim's lease expiry (with its lease_lost attempt)."""
    h = mongodb_harness
    store = h.store
    assert isinstance(store, MongoStore)
    job = make_job(h, max_attempts=3)
    await add(h, job)
    ops = store._jobs
    doc = await ops.jobs.find_one({"_id": job.id})
    assert doc is not None
    t0 = h.clock.now()
    won = claimed_doc(doc, "ghost", t0 + sec(30), t0)
    # what Versioned.apply writes first, then the crash: the mark only
    await ops.cas.marks.insert_one(
        {
            "_id": ops.cas._mark_id(doc, doc["ver"]),
            "doc": job.id,
            "ver": doc["ver"],
            "at": t0,
            "new": {**won, "ver": doc["ver"] + 1, "inc": doc["inc"]},
        }
    )
    assert await claim(h, worker="w2") == []
    await h.clock.advance(ROLL_FORWARD_AFTER)
    assert await claim(h, worker="w2") == []  # rolled forward: the ghost holds it now
    stored = await store.get_job(job.id)
    assert stored is not None
    assert (stored.status, stored.lease_owner, stored.token) == (JobStatus.RUNNING, "ghost", 1)
    await h.clock.advance(30)
    again = await claim_one(h, worker="w2")
    assert (again.token, again.attempts) == (2, 2)
    assert [(a.number, a.worker, a.outcome) for a in await store.get_attempts(job.id)] == [
        (1, "ghost", Outcome.LEASE_LOST)
    ]


async def test_a_leader_killed_mid_renewal_is_succeeded_when_its_lease_ends(mongodb_harness: Harness) -> None:
    """A leader that won its renewal's mark and died before writing it: the mark's lease
    expiry, not ROLL_FORWARD_AFTER, bounds the failover. Until that expiry a contender is
    told "not yours" at once (not after rounds of losing); after it, the contender takes the
    lease with the next token. (Seen in CI: the election took 10 s on FerretDB.)"""
    h = mongodb_harness
    store = h.store
    assert isinstance(store, MongoStore)
    ttl = timedelta(seconds=1)
    t0 = h.clock.now()
    held = await store.acquire_lease("leader:x", owner="dead", ttl=ttl, now=t0)
    assert held is not None
    leases = store._leases
    doc = await leases.leases.find_one({"_id": "leader:x"})
    assert doc is not None
    renewed_at = t0 + timedelta(milliseconds=300)
    # what Versioned.apply writes first for the renewal, then the SIGKILL: the mark only
    await leases.cas.marks.insert_one(
        {
            "_id": leases.cas._mark_id(doc, doc["ver"]),
            "doc": "leader:x",
            "ver": doc["ver"],
            "at": renewed_at,
            "new": {**doc, "expires_at": renewed_at + ttl, "ver": doc["ver"] + 1},
        }
    )
    after_first = t0 + ttl + timedelta(milliseconds=100)  # the written lease has expired
    assert await store.acquire_lease("leader:x", owner="next", ttl=ttl, now=after_first) is None
    assert await leases.leases.find_one({"_id": "leader:x"}) == doc  # not rolled forward yet
    after_renewal = renewed_at + ttl + timedelta(milliseconds=1)
    taken = await store.acquire_lease("leader:x", owner="next", ttl=ttl, now=after_renewal)
    assert taken is not None
    assert (taken.owner, taken.token) == ("next", held.token + 1)
    assert after_renewal < renewed_at + ROLL_FORWARD_AFTER  # what this test is about
    renewed = await store.renew_lease("leader:x", owner="dead", token=held.token, ttl=ttl, now=after_renewal)
    assert renewed is None


async def test_a_pass_of_a_killed_leader_does_not_hold_up_its_successor(mongodb_harness: Harness) -> None:
    """A leader whose scheduler pass won a schedule's mark under its term and died before
    writing it: while that term holds, the change waits for its writer; once a new term
    holds the election, the successor's pass rolls it forward at once and takes the
    schedule, rather than after ROLL_FORWARD_AFTER."""
    h = mongodb_harness
    store = h.store
    assert isinstance(store, MongoStore)
    ttl = timedelta(seconds=1)
    t0 = h.clock.now()
    await store.put_schedule(make_schedule(h, "tick"), now=t0)
    old = await store.acquire_lease("leader:s", owner="dead", ttl=ttl, now=t0)
    assert old is not None
    schedules = store._schedules
    doc = await schedules.schedules.find_one({"_id": "tick"})
    assert doc is not None
    leased = {
        **doc, "lease_owner": "dead", "lease_expires_at": t0 + sec(30), "lease_fence_name": "leader:s",
        "lease_fence_token": old.token, "version": doc["version"] + 1, "ver": doc["ver"] + 1,
    }  # fmt: skip
    # what Versioned.apply writes first for the dead leader's pass, then the SIGKILL
    await schedules.cas.marks.insert_one(
        {
            "_id": schedules.cas._mark_id(doc, doc["ver"]),
            "doc": "tick",
            "ver": doc["ver"],
            "at": t0,
            "fence": ["leader:s", "dead", old.token],
            "new": leased,
        }
    )
    during = t0 + timedelta(milliseconds=500)  # the dead leader's term still holds
    assert await store.acquire_schedules(owner="other", limit=10, lease_for=sec(30), now=during) == []
    assert await schedules.schedules.find_one({"_id": "tick"}) == doc  # not rolled forward
    after = t0 + ttl + timedelta(milliseconds=100)
    new = await store.acquire_lease("leader:s", owner="next", ttl=ttl, now=after)
    assert new is not None
    fence = Fence("leader:s", "next", new.token)
    taken = await store.acquire_schedules(owner="next", limit=10, lease_for=sec(30), now=after, fence=fence)
    assert [(s.id, s.lease_owner) for s in taken] == [("tick", "next")]
    assert after < t0 + ROLL_FORWARD_AFTER  # what this test is about


async def test_a_claim_from_a_stale_read_is_not_reported_won(mongodb_harness: Harness) -> None:
    """A claimer that read a job, then stalled while two changes moved it on (claimed and
    finished by another worker; the mark of the version it read is deleted by then), can
    insert that mark again. Its write then matches nothing: it must not be told it won, or
    it would run a job that already ran."""
    h = mongodb_harness
    store = h.store
    assert isinstance(store, MongoStore)
    job = make_job(h)
    await add(h, job)
    ops = store._jobs
    stale = await ops.jobs.find_one({"_id": job.id})
    assert stale is not None
    other = await claim_one(h, worker="w1")
    assert await store.finish(
        [Finish(job.id, other.token, Outcome.SUCCEEDED)], worker="w1", now=h.clock.now()
    ) == [True]
    t0 = h.clock.now()
    won = await ops.cas.apply([(stale, claimed_doc(dict(stale), "late", t0 + sec(30), t0))], t0)
    assert won == [False]
    stored = await store.get_job(job.id)
    assert stored is not None
    assert (stored.status, stored.token) == (JobStatus.SUCCEEDED, other.token)


async def test_a_change_writes_the_whole_new_content(mongodb_harness: Harness) -> None:
    """Changes are written as field updates (see _versioned._replacing), yet a field the new
    content leaves out is removed, as a replacement would."""
    h = mongodb_harness
    store = h.store
    assert isinstance(store, MongoStore)
    job = make_job(h)
    await add(h, job)
    cas, jobs = store._jobs.cas, store._jobs.jobs
    now = h.clock.now()
    doc = await jobs.find_one({"_id": job.id})
    assert doc is not None
    assert await cas.apply([(doc, {**doc, "extra": {"a": [1]}})], now) == [True]
    doc = await jobs.find_one({"_id": job.id})
    assert doc is not None
    assert doc["extra"] == {"a": [1]}
    assert await cas.apply([(doc, {k: v for k, v in doc.items() if k != "extra"})], now) == [True]
    stored = await jobs.find_one({"_id": job.id})
    assert stored is not None
    assert "extra" not in stored
    assert stored["ver"] == doc["ver"] + 1
    assert await store.get_job(job.id) == job


async def test_commit_that_crashed_before_creating_its_jobs_is_completed_once(
    mongodb_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rota.stores.mongodb import _schedules

    h = mongodb_harness
    now = h.clock.now()
    await h.store.put_schedule(Schedule(id="s", task="t", trigger="interval:60", next_fire_at=now), now=now)
    (leased,) = await h.store.acquire_schedules(owner="o", limit=1, lease_for=sec(30), now=now)
    job = make_job(h, key=schedule_key("s", now), schedule_id="s", fire_time=now)

    real = _schedules.insert_jobs

    async def crash(*args: object, **kwargs: object) -> object:
        raise RuntimeError("scheduler process died here")

    monkeypatch.setattr(_schedules, "insert_jobs", crash)
    with pytest.raises(RuntimeError):
        await h.store.commit_fires(FireCommit("s", leased.version, "o", (job,), now + sec(60), now), now=now)
    monkeypatch.setattr(_schedules, "insert_jobs", real)
    assert await h.store.get_job(job.id) is None  # the fire is only in the schedule's outbox

    other = await h.another()
    assert await other.acquire_schedules(owner="p", limit=5, lease_for=sec(30), now=now) == []
    assert await h.store.get_job(job.id) == job  # flushed by the next scheduler pass
    await other.acquire_schedules(owner="p", limit=5, lease_for=sec(30), now=now)  # flush again: no-op
    stored = await h.store.get_schedule("s")
    assert stored is not None
    assert (stored.run_count, stored.last_job_id, stored.next_fire_at) == (1, job.id, now + sec(60))
    assert len(await h.store.list_jobs(JobFilter(schedule_id="s"))) == 1


async def test_racing_lease_takers_get_one_winner_per_expiry(mongodb_harness: Harness) -> None:
    h = mongodb_harness
    stores = [h.store] + [await h.another() for _ in range(5)]
    winners: list[int] = []
    for _ in range(4):
        now = h.clock.now()
        got = await asyncio.gather(
            *(s.acquire_lease("L", owner=f"o{n}", ttl=sec(10), now=now) for n, s in enumerate(stores))
        )
        held = [g for g in got if g is not None]
        assert len(held) == 1, held
        winners.append(held[0].token)
        await h.clock.advance(10)
    assert winners == [1, 2, 3, 4]


async def test_racing_finish_and_cancel_apply_exactly_one(mongodb_harness: Harness) -> None:
    h = mongodb_harness
    other = await h.another()
    jobs = [make_job(h) for _ in range(10)]
    await add(h, *jobs)
    claimed = await claim(h, limit=10)
    now = h.clock.now()

    async def cancel(job_id: str) -> bool:
        try:
            await other.cancel(job_id, now=now)
        except Exception:
            return False
        return True

    outcomes = await asyncio.gather(*(asyncio.gather(finish(h, j), cancel(j.id)) for j in claimed))
    for (finished, cancelled), job in zip(outcomes, claimed, strict=True):
        assert finished != cancelled, job.id
        history = await h.store.get_attempts(job.id)
        assert len(history) == 1
        assert history[0].outcome is (Outcome.SUCCEEDED if finished else Outcome.CANCELLED)


async def test_outage_raises_store_unavailable_and_loses_nothing(tmp_path: Path) -> None:
    try:
        server = start_ferretdb()  # our own: this test stops it
    except (RuntimeError, OSError) as exc:
        unavailable("mongodb", str(exc))
        return
    try:
        store = await opened(
            database_url(server, "outage", "serverSelectionTimeoutMS=300&connectTimeoutMS=300")
        )
        h = Harness(store=store, clock=FakeClock(), connect=lambda: asyncio.sleep(0, store))
        job = make_job(h)
        await add(h, job)
        server.stop()
        with pytest.raises(StoreUnavailable):
            await claim(h)
        with pytest.raises(StoreUnavailable):
            await store.get_job(job.id)
        server.start()
        assert [j.id for j in await claim(h)] == [job.id]
        await store.close()
    finally:
        server.stop()
        import shutil

        shutil.rmtree(server.data_dir or "", ignore_errors=True)


async def test_concurrent_batch_writes_do_not_wedge_the_server(tmp_path: Path) -> None:
    """Eight workers claim, then finish, 32 jobs each at once: eight write commands of 32
    statements in flight together. FerretDB 1.x keeps each single-document update
    statement's read open (one backend connection) until its whole command ends and needs
    another to write, so such commands used to exhaust its pool (100 connections per
    database over SQLite, 50 in all over PostgreSQL) and hang for good: 4 worker processes
    stalled on FerretDB/PostgreSQL. Every claim and finish must complete."""
    try:
        server = start_ferretdb()  # our own: a wedged server must not outlive this test
    except (RuntimeError, OSError) as exc:
        unavailable("mongodb", str(exc))
        return
    stores: list[MongoStore] = []
    try:
        url = database_url(server, "wedge")
        stores = [await opened(url) for _ in range(8)]
        h = Harness(store=stores[0], clock=FakeClock(), connect=lambda: asyncio.sleep(0, stores[0]))
        queues = [f"q{n}" for n in range(len(stores))]
        await add(h, *(make_job(h, queue=q) for q in queues for _ in range(32)))
        now = h.clock.now()
        async with asyncio.timeout(60):  # a failure guard: passing takes a few seconds
            claimed = await asyncio.gather(
                *(
                    s.claim(queues=[q], worker=q, limit=32, lease_for=sec(60), now=now)
                    for s, q in zip(stores, queues, strict=True)
                )
            )
            assert [len(c) for c in claimed] == [32] * len(stores)
            done = await asyncio.gather(
                *(
                    s.finish([Finish(j.id, j.token, Outcome.SUCCEEDED) for j in c], worker=q, now=now)
                    for s, q, c in zip(stores, queues, claimed, strict=True)
                )
            )
        assert all(all(d) for d in done)
        assert (await stores[0].stats()).total(JobStatus.SUCCEEDED) == 32 * len(stores)
    finally:
        for s in stores:
            await s.close()
        server.stop()
        import shutil

        shutil.rmtree(server.data_dir or "", ignore_errors=True)


# PyMongo's async client leaves the socket of a refused connection to the garbage collector
# (a ResourceWarning, not ours); collected here so it is not blamed on a later test
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_unreachable_server_fails_open_with_store_unavailable() -> None:
    import gc

    from tests.servers._common import free_port

    store = from_url(f"mongodb://127.0.0.1:{free_port()}/x?serverSelectionTimeoutMS=200")
    with pytest.raises(StoreUnavailable):
        await store.open()
    await store.close()
    gc.collect()


def test_roll_forward_delay_is_short_enough_for_leases() -> None:
    assert timedelta(0) < ROLL_FORWARD_AFTER <= timedelta(seconds=30)
