"""Micro-benchmark of the Redis store itself (no worker): bulk add, claim+finish batches,
and memory per pending delayed job. Starts its own redis-server (AOF on, everysec) unless
ROTA_REDIS_URL is set.

    .venv/bin/python benchmarks/redis_store_micro.py [--jobs 100000] [--batch 100] [--worker] [--memory]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis
from tests.servers.redis import RedisServer, with_prefix

from rota._ids import new_id
from rota._models import Finish, Job, Outcome
from rota.stores.redis import RedisStore, from_url

NOW = datetime(2030, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def jobs(n: int, *, delay: float = 0.0) -> list[Job]:
    due = NOW + timedelta(seconds=delay)
    return [
        Job(id=new_id(), task="bench.noop", payload=b'{"n":1}', due_at=due, created_at=NOW) for _ in range(n)
    ]


async def bench_add(store: RedisStore, n: int, bulk: int) -> None:
    batches = [jobs(bulk) for _ in range(n // bulk)]
    t = time.perf_counter()
    for batch in batches:
        await store.add(batch, now=NOW)
    dt = time.perf_counter() - t
    print(f"add bulk({bulk}):        {n / dt:10,.0f} jobs/s  ({n} jobs in {dt:.2f}s)")


async def bench_add_single(store: RedisStore, n: int) -> None:
    singles = jobs(n)
    t = time.perf_counter()
    for job in singles:
        await store.add([job], now=NOW)
    dt = time.perf_counter() - t
    print(f"add single:            {n / dt:10,.0f} jobs/s  ({n} jobs in {dt:.2f}s)")


async def bench_claim_finish(store: RedisStore, batch: int) -> None:
    done = 0
    t = time.perf_counter()
    while True:
        claimed = await store.claim(queues=["default"], worker="bench", limit=batch, lease_for=LEASE, now=NOW)
        if not claimed:
            break
        results = [Finish(j.id, j.token, Outcome.SUCCEEDED, result=b"null") for j in claimed]
        applied = await store.finish(results, worker="bench", now=NOW)
        assert all(applied)
        done += len(claimed)
    dt = time.perf_counter() - t
    print(f"claim+finish({batch}):     {done / dt:10,.0f} jobs/s  ({done} jobs in {dt:.2f}s)")


async def bench_memory(store: RedisStore, url: str, n: int) -> None:
    client = Redis.from_url(url)
    try:
        await client.execute_command("MEMORY", "PURGE")
        before = int((await client.info("memory"))["used_memory"])
        sample = jobs(1, delay=3600)
        await store.add(sample, now=NOW)
        for _ in range(n // 1000):
            await store.add(jobs(1000, delay=3600), now=NOW)
        after = int((await client.info("memory"))["used_memory"])
        ns = store.config.namespace
        hash_bytes = await client.memory_usage(f"{ns}:j:{sample[0].id}")
        index = {k: await index_bytes(client, f"{ns}:{k}") for k in ("ids", "due:default")}
    finally:
        await client.aclose()
    total = n + 1
    chunks = ", ".join(f"{k} {size / total:.0f} B/job in {n} chunks" for k, (size, n) in index.items())
    print(
        f"memory, {total} pending delayed jobs: {(after - before) / total:,.0f} bytes/job "
        f"(job hash {hash_bytes} B incl. its key; indexes: {chunks}; the rest is the keyspace table)"
    )


async def index_bytes(client: Redis, index: str) -> tuple[int, int]:
    """MEMORY USAGE of a chunked ordered index (scripts/_ordered.lua) and its chunks, and
    how many chunks it has."""
    bounds = await client.zrange(index, 0, -1)
    size = await client.memory_usage(index) or 0
    for bound in bounds:
        size += await client.memory_usage(index.encode() + b"\0" + bound) or 0
    return size, len(bounds)


async def bench_worker(url: str, n: int) -> None:
    from rota import App

    app = App(with_prefix(url, "w" + uuid.uuid4().hex[:6]), instance_id="bench")

    @app.task(name="bench.noop")
    async def noop(n: int) -> None:
        return None

    await app.open()
    for start in range(0, n, 1000):
        await app.enqueue_many([noop.prepare(i) for i in range(start, min(n, start + 1000))])
    t = time.perf_counter()
    async with app.worker(concurrency=200):
        await app.wait_until_idle(timeout=600)
    dt = time.perf_counter() - t
    await app.close()
    print(f"worker (1 process):    {n / dt:10,.0f} jobs/s  ({n} no-op jobs in {dt:.2f}s)")


async def main(args: argparse.Namespace) -> None:
    url = os.environ.get("ROTA_REDIS_URL")
    server = None
    tmp = tempfile.TemporaryDirectory(prefix="rota-bench-")
    if not url:
        server = RedisServer(Path(tmp.name))
        server.start()
        url = server.url
    try:
        store = from_url(with_prefix(url, "bench" + uuid.uuid4().hex[:6]))
        await store.open()
        if not args.memory:
            await bench_add_single(store, min(args.jobs, 5000))
            await bench_add(store, args.jobs, 1000)
            await bench_claim_finish(store, args.batch)
        await store.close()
        mem = from_url(with_prefix(url, "mem" + uuid.uuid4().hex[:6]))
        await mem.open()
        await bench_memory(mem, url, args.jobs)
        await mem.close()
        if args.worker:
            await bench_worker(url, args.jobs)
    finally:
        if server is not None:
            server.stop()
        tmp.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--worker", action="store_true", help="also time the worker end to end")
    parser.add_argument("--memory", action="store_true", help="only the memory per delayed job")
    asyncio.run(main(parser.parse_args()))
