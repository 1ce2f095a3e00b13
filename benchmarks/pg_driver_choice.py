"""Which PostgreSQL driver for the store, and how fast the store's claim loop runs.

    .venv/bin/python benchmarks/pg_driver_choice.py [--jobs 20000] [--batch 100]

Starts a throwaway cluster (like the tests: fsync off, loopback) unless ROTA_POSTGRES_URL is
set. Measures, on fresh schemas with the store's own tables and SQL (queries.sql):

1. the claim loop (claim a batch, finish it in one statement) over asyncpg and over
   psycopg 3 (binary, prepared statements), each on one connection, same statements;
2. the store itself (PostgresStore over asyncpg, its pool): bulk enqueue rate, then
   claim+finish throughput with 1, 2 and 4 concurrent claim loops in one process;
3. idle pickup latency: add() in one store to claim() in another that sleeps on LISTEN.

Measured on the 2-core shared dev machine (20,000 jobs, batches of 100, load about 1):
asyncpg 13,000-17,000 jobs/s on one connection at 14-18 us of client CPU per job; psycopg 3
9,600-9,700 jobs/s at 32-34 us (server CPU the same, about 55 us). The store keeps asyncpg:
once the server side is cheap, a worker is bound by its own CPU, and asyncpg spends half as
much per job. The store: 13,800 jobs/s with one claim loop, 16,300 with 2, 18,400 with 4;
bulk add about 31,000 jobs/s; idle pickup p50 2.7 ms, p99 7.6 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import asyncpg
from tests.servers.postgres import remove_cluster, start_cluster, with_query

from rota._ids import new_id
from rota._models import Finish, Job, Outcome
from rota.stores._resources import queries
from rota.stores.postgres import PostgresStore, from_url

NOW = datetime(2030, 1, 1, tzinfo=UTC)
JOB_QUERIES = queries("rota.stores.postgres", "jobs")
LEASE = timedelta(seconds=60)


def jobs(n: int) -> list[Job]:
    return [Job(id=new_id(), task="noop", due_at=NOW, created_at=NOW) for _ in range(n)]


async def fresh_store(base_url: str) -> PostgresStore:
    store = from_url(with_query(base_url, schema=f"bench_{uuid.uuid4().hex[:10]}", pool_max="8"))
    await store.open()
    return store


async def drop(store: PostgresStore, base_url: str) -> None:
    schema = store.config.schema
    await store.close()
    conn = await asyncpg.connect(base_url)
    await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await conn.close()


async def fill(store: PostgresStore, n: int, chunk: int = 1000) -> float:
    """Bulk-enqueue n jobs; returns jobs/s."""
    start = time.perf_counter()
    for i in range(0, n, chunk):
        await store.add(jobs(min(chunk, n - i)), now=NOW)
    return n / (time.perf_counter() - start)


def finish_args(rows: list[Any], now: datetime) -> list[Any]:
    n = len(rows)
    nones: list[Any] = [None] * n
    return [
        [r["id"] for r in rows],
        [r["token"] for r in rows],
        ["succeeded"] * n,
        ["succeeded"] * n,
        nones,
        nones,
        nones,
        nones,
        nones,
        nones,
        nones,
        nones,
        nones,
        "bench",
        now,
        "rota.bench.jobs",
    ]


# -- raw driver loops (same SQL, one connection each) -------------------------------------------


async def loop_asyncpg(dsn: str, schema: str, batch: int) -> tuple[int, float]:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema, "jit": "off"})
    claim, finish = JOB_QUERIES["claim"], JOB_QUERIES["finish"]
    done, start = 0, time.perf_counter()
    while True:
        rows = await conn.fetch(claim, ["default"], "bench", batch, NOW + LEASE, NOW)
        if not rows:
            break
        await conn.fetch(finish, *finish_args(rows, NOW))
        done += len(rows)
    elapsed = time.perf_counter() - start
    await conn.close()
    return done, elapsed


def to_psycopg(sql: str) -> str:
    """$1 -> %(p1)s (psycopg's placeholders; named because some parameters repeat)."""
    return re.sub(r"\$(\d+)", r"%(p\1)s", sql.replace("%", "%%"))


async def loop_psycopg(dsn: str, schema: str, batch: int) -> tuple[int, float]:
    import psycopg
    from psycopg.rows import dict_row

    conn = await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, prepare_threshold=0, row_factory=dict_row
    )
    await conn.execute(f'SET search_path TO "{schema}"')
    await conn.execute("SET jit TO off")
    claim, finish = to_psycopg(JOB_QUERIES["claim"]), to_psycopg(JOB_QUERIES["finish"])

    def named(args: list[Any]) -> dict[str, Any]:
        return {f"p{i}": v for i, v in enumerate(args, 1)}

    done, start = 0, time.perf_counter()
    while True:
        cur = await conn.execute(claim, named([["default"], "bench", batch, NOW + LEASE, NOW]), binary=True)
        rows = await cur.fetchall()
        if not rows:
            break
        cur = await conn.execute(finish, named(finish_args(rows, NOW)), binary=True)
        await cur.fetchall()
        done += len(rows)
    elapsed = time.perf_counter() - start
    await conn.close()
    return done, elapsed


# -- the store itself ------------------------------------------------------------------------------


async def store_loop(store: PostgresStore, batch: int) -> int:
    done = 0
    while True:
        claimed = await store.claim(queues=["default"], worker="bench", limit=batch, lease_for=LEASE, now=NOW)
        if not claimed:
            return done
        results = [Finish(j.id, j.token, Outcome.SUCCEEDED) for j in claimed]
        await store.finish(results, worker="bench", now=NOW)
        done += len(claimed)


async def timed(coro: Callable[[], Awaitable[int]]) -> tuple[int, float]:
    start = time.perf_counter()
    done = await coro()
    return done, time.perf_counter() - start


class Cpu:
    """CPU seconds spent by this process and by the cluster's server processes (Linux /proc).

    Wall-clock rates depend on how busy the (shared) machine is; CPU per job does not."""

    def __init__(self, data_dir: str | None) -> None:
        self.postmaster: int | None = None
        if data_dir is not None:
            with open(os.path.join(data_dir, "postmaster.pid")) as fh:
                self.postmaster = int(fh.readline())

    def server(self) -> float:
        if self.postmaster is None:
            return float("nan")
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(pid) == self.postmaster:
                # utime + stime, and cutime + cstime: backends that exited meanwhile
                total += sum(int(f) for f in fields[11:15])
            elif int(fields[1]) == self.postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / tick

    async def measure(self, label: str, n: int, run: Callable[[], Awaitable[tuple[int, float]]]) -> None:
        client0, server0 = time.process_time(), self.server()
        done, elapsed = await run()
        client, server = time.process_time() - client0, self.server() - server0
        assert done == n, (label, done, n)
        print(
            f"{label:44s} {done / elapsed:9,.0f} jobs/s   CPU per job: client "
            f"{client / done * 1e6:5.1f} us, server {server / done * 1e6:5.1f} us"
        )


async def pickup_latency(base: str, rounds: int = 200) -> list[float]:
    """Seconds from add() in one store to claim() returning the job in another, whose
    worker sleeps in wait_for_jobs (LISTEN/NOTIFY) between jobs."""
    producer = await fresh_store(base)
    consumer = from_url(producer.config.url)  # another pool and listener, same schema
    await consumer.open()
    latencies: list[float] = []
    try:
        for _ in range(rounds):
            while await consumer.wait_for_jobs(0):
                pass

            async def pick() -> float:
                while True:
                    got = await consumer.claim(
                        queues=["default"], worker="c", limit=1, lease_for=LEASE, now=NOW
                    )
                    if got:
                        return time.perf_counter()
                    await consumer.wait_for_jobs(5.0)

            task = asyncio.create_task(pick())
            await asyncio.sleep(0.002)  # let the consumer go idle
            start = time.perf_counter()
            await producer.add(jobs(1), now=NOW)
            latencies.append(await task - start)
    finally:
        await consumer.close()
        await drop(producer, base)
    return sorted(latencies)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    n, batch = args.jobs, args.batch

    server = None
    base = os.environ.get("ROTA_POSTGRES_URL")
    if not base:
        server = start_cluster()
        base = server.url
    try:
        print(f"server: {base} ({'external' if server is None else 'throwaway, fsync off'})")
        print(f"{n} no-op jobs, batches of {batch}\n")

        cpu = Cpu(server.data_dir if server is not None else None)
        # interleaved: the machine is shared, so order effects would otherwise decide
        for _ in range(2):
            for name, loop in (("asyncpg", loop_asyncpg), ("psycopg3", loop_psycopg)):
                if name == "psycopg3" and importlib.util.find_spec("psycopg") is None:
                    print("psycopg 3 is not installed (pip install 'psycopg[binary]'): skipped")
                    continue
                store = await fresh_store(base)
                await fill(store, n)
                dsn, schema = store.config.dsn, store.config.schema
                await cpu.measure(
                    f"driver {name}: claim+finish, 1 connection",
                    n,
                    lambda loop=loop, dsn=dsn, schema=schema: loop(dsn, schema, batch),
                )
                await drop(store, base)

        store = await fresh_store(base)
        rate = await fill(store, n)
        print(f"\nstore add (bulk, 1000 per call):             {rate:9,.0f} jobs/s")
        await store.add(jobs(1), now=NOW)  # warm
        start = time.perf_counter()
        for _ in range(500):
            await store.add(jobs(1), now=NOW)
        single = 500 / (time.perf_counter() - start)
        print(f"store add (one job per call):                {single:9,.0f} jobs/s")
        await cpu.measure(
            "store claim+finish, 1 loop", n + 501, lambda: timed(lambda: store_loop(store, batch))
        )
        await drop(store, base)

        for loops in (2, 4):
            store = await fresh_store(base)
            await fill(store, n)

            async def many(store: PostgresStore = store, loops: int = loops) -> int:
                return sum(await asyncio.gather(*(store_loop(store, batch) for _ in range(loops))))

            await cpu.measure(
                f"store claim+finish, {loops} concurrent loops", n, lambda many=many: timed(many)
            )
            await drop(store, base)
        lat = await pickup_latency(base)
        p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99) - 1]
        print(
            f"\nidle pickup (add -> claim in another store): p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms"
        )
    finally:
        if server is not None:
            remove_cluster(server)


if __name__ == "__main__":
    asyncio.run(main())
