"""The Redis store's compact layout (docs/redis.md, "How state is kept"): job hashes without
default-valued fields, the id index and the delayed sets in chunks (scripts/_ordered.lua),
the memory per pending delayed job that buys, and the refusal of an earlier layout."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from rota import App
from rota._errors import StoreError
from rota._ids import new_id
from rota._models import Job, JobFilter, JobStatus
from rota.stores.redis import RedisStore, from_url
from rota.stores.redis._codec import JOBS, decode_job, job_args, pack
from rota.testing.conformance import Harness
from rota.testing.conformance._support import make_job
from tests.servers._common import find_binary, unavailable
from tests.servers.redis import RedisServer, with_prefix

pytestmark = pytest.mark.redis

LEASE = timedelta(hours=1)  # longer than any test here runs its clock: no lease expires
#: used_memory per pending delayed no-op job, at most (measured: ~300 on Redis 7.0; arq ~370;
#: rota's earlier layout ~535)
MAX_BYTES_PER_DELAYED_JOB = 330


@pytest.fixture
async def fresh_url(tmp_path: Path) -> AsyncIterator[str]:
    """A private, empty server: used_memory then moves only with what the test writes (on
    the shared server, the keyspace table of every earlier test's keys may grow meanwhile)."""
    if find_binary("redis-server") is None:
        unavailable("redis", "redis-server not found")
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server.url
    server.stop()


async def index_members(client: Redis, index: str) -> list[bytes]:
    """The members of a chunked ordered index (scripts/_ordered.lua), in order."""
    members: list[bytes] = []
    for bound in await client.zrange(index, 0, -1):
        members += await client.zrange(index.encode() + b"\0" + bound, 0, -1)
    return members


async def test_memory_per_pending_delayed_job_is_at_most_arqs(fresh_url: str) -> None:
    """As benchmarks/_rota_bench.py measures it: no-op jobs (payload None) enqueued in bulk
    with a delay of an hour, used_memory's growth per job."""
    n = 4000
    async with App(with_prefix(fresh_url, "mem")) as app:

        @app.task(name="bench.noop")
        async def noop() -> None:
            return None

        client = Redis.from_url(fresh_url)
        try:
            await noop.enqueue(delay=3600)  # scripts loaded, first keys made
            before = (await client.info("memory"))["used_memory"]
            for _ in range(n // 1000):
                await app.enqueue_many([noop.prepare(delay=3600) for _ in range(1000)])
            after = (await client.info("memory"))["used_memory"]
        finally:
            await client.aclose()
    per_job = (after - before) / n
    assert per_job <= MAX_BYTES_PER_DELAYED_JOB, f"{per_job:.0f} bytes per pending delayed job"


def _every_field() -> Job:
    at = datetime(2031, 2, 3, 4, 5, 6, 7000, tzinfo=UTC)
    return Job(
        id=new_id(), task="mail.send", queue="q1", payload=b'{"to":"a@b"}', priority=-3,
        status=JobStatus.RUNNING, due_at=at, created_at=at - timedelta(seconds=1), attempts=2,
        max_attempts=5, token=7, lease_owner="w1", lease_expires_at=at + timedelta(seconds=30),
        started_at=at + timedelta(seconds=2), finished_at=at + timedelta(seconds=3), key="k1",
        schedule_id="s1", fire_time=at - timedelta(hours=1), timeout=2.5, last_error="E: boom",
        result=b"[1]", headers={"traceparent": "00-ab-cd-01"}, progress=0.25,
        progress_message="a quarter", progress_at=at + timedelta(seconds=4), concurrency_key="ck",
        concurrency_limit=3, rate_key="rk", rate_limit=10, rate_period=1.5, parents=("p1", "p2"),
        parents_left=1, run_after_failure=True, takes_result=True, dependants=4,
    )  # fmt: skip


@pytest.mark.parametrize(
    "job",
    [
        _every_field(),
        Job(id=new_id(), task="t", due_at=datetime(2031, 1, 1, tzinfo=UTC)),  # every default
    ],
    ids=["every-field-set", "defaults"],
)
async def test_a_job_round_trips_through_its_hash(redis_url: str, job: Job) -> None:
    """Each field is stored (or left out at its default) and read back exactly, through a
    real hash: no field set to a non-default value is lost, none left out reads wrong."""
    job_id, packed = job.id, job_args(job)[4]
    client = Redis.from_url(redis_url)
    key = f"{{roundtrip}}:j:{job_id}"
    try:
        await client.hset(key, mapping=_unpack(packed))
        flat = [x for kv in (await client.hgetall(key)).items() for x in kv]
        await client.delete(key)
    finally:
        await client.aclose()
    assert decode_job(job_id, flat) == job
    stored = {flat[i] for i in range(0, len(flat), 2)}
    if job.priority == 0:  # the defaults leave fields out
        assert not stored & {b"p", b"pr", b"a", b"tk"}
    else:
        assert {b"p", b"pr", b"a", b"tk"} <= stored


def _unpack(packed: object) -> dict[bytes, bytes]:
    assert isinstance(packed, bytes)
    values, at = [], 0
    while at < len(packed):
        colon = packed.index(b":", at)
        end = colon + 1 + int(packed[at:colon])
        values.append(packed[colon + 1 : end])
        at = end
    assert pack(values) == packed
    return dict(zip(values[::2], values[1::2], strict=True))


def test_the_codec_leaves_out_only_fields_with_a_default() -> None:
    sparse = {f.name for f in JOBS.fields if f.sparse}
    assert {"payload", "priority", "attempts", "token"} <= sparse
    assert not sparse & {"id", "task", "queue", "status", "due_at", "max_attempts"}


async def test_many_delayed_jobs_across_chunks_keep_every_index_exact(redis_harness: Harness) -> None:
    """Hundreds of jobs (several chunks of each index), due in shuffled order, some sharing a
    due time; two thirds cancelled from the middle (chunks merge); then claims as time passes take each job
    exactly once, in due order, and listings, counts and next_due agree with a model."""
    h = redis_harness
    store = h.store
    assert isinstance(store, RedisStore)
    rng = random.Random(16)
    t0 = h.clock.now()
    delays = [rng.randrange(1, 200) for _ in range(700)]
    jobs = [make_job(h, delay=d) for d in delays]
    shuffled = jobs[:]
    rng.shuffle(shuffled)
    for start in range(0, len(shuffled), 97):
        await store.add(shuffled[start : start + 97], now=h.clock.now())
    cancelled = set(rng.sample([j.id for j in jobs], 460))
    for job_id in cancelled:
        await store.cancel(job_id, now=h.clock.now())
    waiting = sorted((j for j in jobs if j.id not in cancelled), key=lambda j: (j.due_at, j.id))

    ns = store.config.namespace
    client = Redis.from_url(store.config.url)
    try:
        assert await index_members(client, f"{ns}:due:default") == [j.id.encode() for j in waiting]
        assert await index_members(client, f"{ns}:ids") == sorted(j.id.encode() for j in jobs)
        assert len(await client.zrange(f"{ns}:ids", 0, -1)) > 3  # chunks, not one zset
    finally:
        await client.aclose()

    all_ids = sorted(j.id for j in jobs)
    listed = await _list_all(store, JobFilter(limit=50))
    assert listed == all_ids
    assert await _list_all(store, JobFilter(limit=64, newest_first=True)) == all_ids[::-1]
    middle = await store.list_jobs(JobFilter(after_id=all_ids[100], before_id=all_ids[400], limit=1000))
    assert [j.id for j in middle] == all_ids[101:400]
    pending = await store.list_jobs(JobFilter(status=JobStatus.PENDING, limit=1000))
    assert [j.id for j in pending] == sorted(j.id for j in waiting)

    assert (await store.stats(now=h.clock.now())).delayed == {"default": len(waiting)}
    assert await store.next_due(queues=["default"]) == waiting[0].due_at

    taken: list[Job] = []
    for step in range(0, 220, 20):
        await h.clock.set(t0 + timedelta(seconds=step))
        now = h.clock.now()
        while batch := await store.claim(queues=["default"], worker="w", limit=37, lease_for=LEASE, now=now):
            taken += batch
        assert all(j.due_at is not None and j.due_at <= now for j in taken)
        left = [j for j in waiting if j.due_at is not None and j.due_at > now]
        assert (await store.stats(now=now)).delayed == ({"default": len(left)} if left else {})
        # the earliest of the next delayed job's due time and the taken jobs' lease expiries
        soonest = [j.lease_expires_at for j in taken if j.lease_expires_at] + [j.due_at for j in left[:1]]
        assert await store.next_due(queues=["default"]) == min(soonest)  # type: ignore[type-var]
    assert sorted(j.id for j in taken) == sorted(j.id for j in waiting)
    assert len({j.id for j in taken}) == len(taken)


async def _list_all(store: RedisStore, flt: JobFilter) -> list[str]:
    """Every id, page by page (keyset pagination in either direction)."""
    out: list[str] = []
    while True:
        page = await store.list_jobs(flt)
        out += [j.id for j in page]
        if len(page) < flt.limit:
            return out
        last = page[-1].id
        flt = JobFilter(limit=flt.limit, newest_first=flt.newest_first, **(
            {"before_id": last} if flt.newest_first else {"after_id": last}
        ))  # fmt: skip


async def test_purge_empties_the_id_index(redis_harness: Harness) -> None:
    h = redis_harness
    store = h.store
    assert isinstance(store, RedisStore)
    jobs = [make_job(h) for _ in range(300)]
    await store.add(jobs, now=h.clock.now())
    for job in jobs:
        await store.cancel(job.id, now=h.clock.now())
    await h.clock.advance(1)
    purged = await store.purge(finished_before=h.clock.now(), limit=1000)
    assert purged == 300
    client = Redis.from_url(store.config.url)
    try:
        assert await client.keys(f"{store.config.namespace}:ids*") == []
    finally:
        await client.aclose()
    assert await store.list_jobs(JobFilter()) == []


async def test_a_namespace_in_the_earlier_layout_is_refused(redis_url: str) -> None:
    """Jobs indexed the earlier way (one zset {p}:all) would be invisible to this version:
    opening says so and what to do, instead of silently missing them."""
    url = with_prefix(redis_url, "old" + new_id()[-8:])
    store = from_url(url)
    client = Redis.from_url(redis_url)
    try:
        await client.zadd(f"{store.config.namespace}:all", {new_id(): 0})
        with pytest.raises(StoreError, match=r"earlier rota version's layout.*prefix"):
            await store.open()
        await client.delete(f"{store.config.namespace}:all")
        await store.open()  # an empty namespace opens
        await store.close()
    finally:
        await client.aclose()
