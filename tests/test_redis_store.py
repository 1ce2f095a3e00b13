"""Redis-specific behaviour beyond the conformance suite: URLs, the key layout (one hash tag
per namespace), cross-process wake-ups, memory per job, a server restart with AOF on, and
the worker end to end on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from rota import App, JobStatus
from rota._errors import ConfigError, StoreUnavailable
from rota._models import Job, LeaseRef
from rota.stores.redis import RedisStore, from_url
from rota.stores.url import store_from_url
from rota.testing import FakeClock, settle
from rota.testing.conformance import Harness
from rota.testing.conformance._support import make_job, make_schedule
from tests.servers._common import find_binary, free_port, unavailable
from tests.servers.redis import RedisServer, with_prefix
from tests.test_redis_layout import index_members

pytestmark = pytest.mark.redis

WAIT = 10.0  # real seconds a wait may take before the test fails (only reached on a bug)
LEASE = timedelta(seconds=30)


# -- URLs ----------------------------------------------------------------------------------


def test_url_options_prefix_cluster_and_passthrough() -> None:
    store = store_from_url("redis://:secret@localhost:6379/2?prefix=myapp&socket_timeout=5")
    assert isinstance(store, RedisStore)
    assert store.config.prefix == "myapp"
    assert store.config.namespace == "{myapp}"
    assert not store.config.cluster
    assert store.config.call_timeout == 5  # rota's own bound on each call
    assert "socket_timeout" not in store.config.url  # (redis-py's would cost a task per send)
    assert from_url("redis://localhost").config.call_timeout == 30
    assert from_url("redis://localhost?socket_timeout=0").config.call_timeout is None
    assert "prefix" not in store.config.url
    assert "secret" not in store.describe()
    assert from_url("redis://localhost").config.prefix == "rota"
    assert from_url("rediss://localhost:6380?cluster=true").config.cluster
    assert from_url("unix:///run/redis.sock?db=1").config.url.startswith("unix://")


async def test_a_server_that_stops_answering_is_unavailable_after_the_call_timeout() -> None:
    """A call never hangs: past ``?socket_timeout=`` (rota's bound on each call) it is
    StoreUnavailable. The "server" accepts connections and never answers."""
    accepted: list[asyncio.StreamWriter] = []

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()  # until the client gives up and closes

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = from_url(f"redis://127.0.0.1:{port}/0?socket_timeout=0.2")
    try:
        with pytest.raises(StoreUnavailable, match=r"did not answer open within 0\.2 s"):
            await asyncio.wait_for(store.open(), WAIT)
        assert accepted  # it connected: the bound was on the answer
    finally:
        server.close()
        for writer in accepted:
            writer.close()
        await store.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost?bogus=1",
        "redis://localhost?prefix=",
        "redis://localhost?prefix=a{b}",
        "redis://localhost?cluster=maybe",
        "unix:///tmp/r.sock?cluster=true",
    ],
)
def test_bad_urls_raise_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        from_url(url)


async def test_unreachable_server_raises_store_unavailable() -> None:
    store = from_url(f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=1")
    with pytest.raises(StoreUnavailable):
        await store.open()
    with pytest.raises(StoreUnavailable):
        await store.add([Job(id="x", task="t", due_at=FakeClock().now())], now=FakeClock().now())
    await store.close()


# -- key layout ----------------------------------------------------------------------------


async def test_every_key_of_a_namespace_shares_one_hash_tag(redis_harness: Harness) -> None:
    h = redis_harness
    store = h.store
    assert isinstance(store, RedisStore)
    now = h.clock.now()
    jobs = [make_job(h, key="k1"), make_job(h, delay=60), make_job(h, queue="other")]
    await store.add(jobs, now=now)
    (claimed,) = await store.claim(queues=["default"], worker="w", limit=1, lease_for=LEASE, now=now)
    await store.cancel(claimed.id, now=now)
    await store.put_schedule(make_schedule(h, "s1"), now=now)
    await store.acquire_lease("leader", owner="a", ttl=LEASE, now=now)
    ns = store.config.namespace
    client = Redis.from_url(store.config.url)
    try:
        keys = [k async for k in client.scan_iter(match=f"*{store.config.prefix}*")]
    finally:
        await client.aclose()
    assert len(keys) >= 8
    assert all(k.decode().startswith(ns + ":") for k in keys), keys
    assert len({key_slot(k) for k in keys}) == 1


# -- wake-ups ------------------------------------------------------------------------------


async def _drain_jobs(store: RedisStore) -> None:
    while await store.wait_for_jobs(0):
        pass


async def test_add_in_another_process_wakes_a_blocked_waiter(redis_harness: Harness) -> None:
    store, other = redis_harness.store, await redis_harness.another()
    assert isinstance(store, RedisStore)
    await _drain_jobs(store)  # the first call subscribes (and returns True: re-check)
    waiter = asyncio.create_task(store.wait_for_jobs(WAIT))
    await settle()
    assert not waiter.done()  # blocked, not polling
    await other.add([make_job(redis_harness)], now=redis_harness.clock.now())
    assert await waiter


async def test_release_and_schedule_changes_wake_other_processes(redis_harness: Harness) -> None:
    h = redis_harness
    store, other = h.store, await h.another()
    assert isinstance(store, RedisStore)
    now = h.clock.now()
    job = make_job(h)
    await other.add([job], now=now)
    (claimed,) = await other.claim(queues=["default"], worker="w", limit=1, lease_for=LEASE, now=now)
    await _drain_jobs(store)
    waiter = asyncio.create_task(store.wait_for_jobs(WAIT))
    await settle()
    assert await other.release([LeaseRef(job.id, claimed.token)], now=now) == 1
    assert await waiter
    while await store.wait_for_schedules(0):
        pass
    waiter = asyncio.create_task(store.wait_for_schedules(WAIT))
    await settle()
    assert not waiter.done()
    await other.put_schedule(make_schedule(h, "s1"), now=now)
    assert await waiter


async def test_next_due_lets_idle_workers_sleep_until_a_delayed_job(
    redis_harness: Harness,
) -> None:
    h = redis_harness
    later, sooner = make_job(h, delay=90), make_job(h, delay=30, priority=5)
    await h.store.add([later, sooner], now=h.clock.now())
    assert await h.store.next_due(queues=["default"]) == sooner.due_at
    assert await h.store.next_due(queues=["nothing-here"]) is None


async def test_a_job_due_when_added_goes_straight_to_the_ready_set(redis_harness: Harness) -> None:
    """A claim then has nothing to promote for it: the claim's cost stays flat however many
    due jobs wait (issue 16 measured 2.5 ms at 10,000 and 18 ms at 1,000,000 pending when
    every job went through the delayed set first)."""
    h = redis_harness
    store = h.store
    assert isinstance(store, RedisStore)
    due, later, urgent = make_job(h), make_job(h, delay=60), make_job(h, priority=7)
    await store.add([due, later, urgent], now=h.clock.now())
    ns = store.config.namespace
    client = Redis.from_url(store.config.url)
    try:
        ready = await client.zrange(f"{ns}:r:default", 0, -1, withscores=True)
        delayed = await index_members(client, f"{ns}:due:default")
    finally:
        await client.aclose()
    assert [(m.decode()[15:], score) for m, score in ready] == [(urgent.id, -7.0), (due.id, 0.0)]
    assert delayed == [later.id.encode()]
    claimed = await store.claim(queues=["default"], worker="w", limit=5, lease_for=LEASE, now=h.clock.now())
    assert [j.id for j in claimed] == [urgent.id, due.id]


async def test_stats_counts_the_delayed_jobs_of_many_chunks_exactly(redis_harness: Harness) -> None:
    """The delayed sets are kept in chunks of at most 112 members (_ordered.lua); the count of
    the jobs due after ``now`` reads the scores of one chunk only and counts the later ones
    whole. Checked against the jobs themselves at instants inside chunks, on a tie that spans
    chunks, and before and after every job, with some of them due (still in the delayed set)."""
    h = redis_harness
    store = h.store
    assert isinstance(store, RedisStore)
    spread = [make_job(h, delay=1 + i * 0.25) for i in range(500)]  # ~4.5 chunks
    tied = [make_job(h, delay=300) for _ in range(250)]  # one score over two or three chunks
    later = [make_job(h, delay=400 + i) for i in range(150)]
    other = [make_job(h, queue="other", delay=50 + i) for i in range(130)]
    jobs = spread + tied + later + other
    for start in range(0, len(jobs), 200):
        await store.add(jobs[start : start + 200], now=h.clock.now())
    client = Redis.from_url(store.config.url)
    try:
        chunks = await client.zcard(f"{store.config.namespace}:due:default")
    finally:
        await client.aclose()
    assert chunks >= 6  # (the test is about counting across them)
    t0 = h.clock.now()
    instants = [
        t0,
        *(t0 + timedelta(seconds=s) for s in (1, 1.125, 30, 60.25, 125.999, 299.999, 300, 300.001, 450, 600)),
    ]
    for now in instants:
        expected: dict[str, int] = {}
        for job in jobs:
            assert job.due_at is not None
            if job.due_at > now:
                expected[job.queue] = expected.get(job.queue, 0) + 1
        assert (await store.stats(now=now)).delayed == expected, now - t0


# -- memory --------------------------------------------------------------------------------


async def test_memory_per_pending_delayed_job_stays_small(redis_harness: Harness) -> None:
    h = redis_harness
    store = h.store
    assert isinstance(store, RedisStore)
    client = Redis.from_url(store.config.url)
    try:
        before = (await client.info("memory"))["used_memory"]
        n = 5000
        for start in range(0, n, 1000):
            batch = [make_job(h, delay=3600 + i) for i in range(start, start + 1000)]
            await store.add(batch, now=h.clock.now())
        after = (await client.info("memory"))["used_memory"]
    finally:
        await client.aclose()
    per_job = (after - before) / n
    assert per_job < 600, f"{per_job:.0f} bytes per pending job"


# -- restarts ------------------------------------------------------------------------------


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private server this test may stop and start (AOF on, appendfsync everysec)."""
    if find_binary("redis-server") is None:
        unavailable("redis", "redis-server not found")
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def restart_store(own_server: RedisServer) -> AsyncIterator[RedisStore]:
    store = from_url(with_prefix(own_server.url, "restart"))
    await store.open()
    yield store
    await store.close()


async def test_restart_loses_no_acknowledged_job_and_the_store_recovers(
    own_server: RedisServer, restart_store: RedisStore
) -> None:
    store, clock = restart_store, FakeClock()
    h = Harness(store=store, clock=clock, connect=lambda: asyncio.sleep(0, store))
    acked: list[Job] = []
    for _ in range(20):
        batch = [make_job(h) for _ in range(10)]
        await store.add(batch, now=clock.now())
        acked += batch
    claimed = await store.claim(queues=["default"], worker="w", limit=10, lease_for=LEASE, now=clock.now())

    own_server.stop()  # SIGTERM: the server fsyncs its AOF on the way down
    with pytest.raises(StoreUnavailable):
        await store.add([make_job(h)], now=clock.now())
    with pytest.raises(StoreUnavailable):
        await store.claim(queues=["default"], worker="w", limit=1, lease_for=LEASE, now=clock.now())
    own_server.start()

    # the same store works at once: dead pooled connections are replaced, scripts reloaded
    stats = await store.stats()
    assert stats.total(JobStatus.PENDING) == 190
    assert stats.total(JobStatus.RUNNING) == 10
    for job in acked:
        assert await store.get_job(job.id) is not None
    from rota._models import Finish, Outcome

    done = await store.finish(
        [Finish(j.id, j.token, Outcome.SUCCEEDED) for j in claimed], worker="w", now=clock.now()
    )
    assert all(done)
    rest = await store.claim(queues=["default"], worker="w", limit=500, lease_for=LEASE, now=clock.now())
    assert {j.id for j in rest} | {j.id for j in claimed} == {j.id for j in acked}


async def test_a_full_server_is_an_outage_not_an_error(
    own_server: RedisServer, restart_store: RedisStore
) -> None:
    """A server at its ``maxmemory`` refuses writes with OOM until memory is freed: callers
    must back off and retry (StoreUnavailable), not take it for a bug (StoreError), which
    stopped a worker's claim loop for good."""
    store, clock = restart_store, FakeClock()
    h = Harness(store=store, clock=clock, connect=lambda: asyncio.sleep(0, store))
    await store.add([make_job(h) for _ in range(5)], now=clock.now())
    admin = Redis.from_url(own_server.url)
    try:
        await admin.config_set("maxmemory", 1)  # noeviction (the default): writes are refused
        with pytest.raises(StoreUnavailable, match="maxmemory"):
            await store.add([make_job(h)], now=clock.now())
        with pytest.raises(StoreUnavailable, match="maxmemory"):
            await store.claim(queues=["default"], worker="w", limit=5, lease_for=LEASE, now=clock.now())
        await admin.config_set("maxmemory", 0)
    finally:
        await admin.config_set("maxmemory", 0)
        await admin.aclose()
    claimed = await store.claim(queues=["default"], worker="w", limit=5, lease_for=LEASE, now=clock.now())
    assert len(claimed) == 5


async def test_kill_with_appendfsync_always_loses_no_acknowledged_job(tmp_path: Path) -> None:
    if find_binary("redis-server") is None:
        unavailable("redis", "redis-server not found")
    server = RedisServer(tmp_path / "redis", extra=("--appendfsync", "always"))
    server.start()
    store = from_url(with_prefix(server.url, "kill"))
    try:
        await store.open()
        clock = FakeClock()
        h = Harness(store=store, clock=clock, connect=lambda: asyncio.sleep(0, store))
        acked = [make_job(h) for _ in range(50)]
        for job in acked:
            await store.add([job], now=clock.now())
        server.stop(kill=True)  # SIGKILL: no shutdown fsync; only what was fsynced survives
        server.start()
        missing = [j.id for j in acked if await store.get_job(j.id) is None]
        assert missing == []
    finally:
        await store.close()
        server.stop()


# -- end to end ----------------------------------------------------------------------------


async def test_worker_runs_jobs_end_to_end_on_redis(redis_url: str) -> None:
    app = App(with_prefix(redis_url, "e2e" + make_job_suffix()), instance_id="w1")
    seen: list[int] = []

    @app.task
    async def record(n: int) -> int:
        seen.append(n)
        return n * 2

    try:
        handles = [await record.enqueue(i) for i in range(30)]
        async with app.worker(concurrency=8):
            await app.wait_until_idle(timeout=WAIT)
        assert sorted(seen) == list(range(30))
        for i, handle in enumerate(handles):
            job = await app.get_job(handle.id)
            assert job.status is JobStatus.SUCCEEDED
            assert job.result == str(i * 2).encode()
    finally:
        await app.close()


def make_job_suffix() -> str:
    import uuid

    return uuid.uuid4().hex[:8]
