"""pgqueuer on PostgreSQL (asyncpg driver, LISTEN/NOTIFY).

Worker: ``PgQueuer.run(batch_size=B)`` in its own process (what ``pgq run`` calls; the
``pgq`` CLI of 1.6.0 crashes at start on its log-level option); B=10 is pgqueuer's default,
``--variant bN`` tries N; the benchmark uses 100, which beat 10 (1,446 vs 835 jobs/s).
Enqueue: ``Queries.enqueue`` one job per call; bulk with lists of 1,000 (one statement).
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import asyncpg
from _common import args, fresh_pg, mark, pickup, processing, report, timed_enqueue
from pgqueuer import AsyncpgDriver, Job, PgQueuer, Queries

URL = os.environ.get("BENCH_URL", "postgresql://postgres@127.0.0.1/postgres")


async def factory() -> PgQueuer:
    conn = await asyncpg.connect(URL)
    pgq = PgQueuer(AsyncpgDriver(conn))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        mark(float(job.payload) if job.payload else None)

    return pgq


async def main() -> None:
    a = args()
    work = Path(a.workdir)
    batch = a.variant.removeprefix("b") if a.variant.startswith("b") else "100"
    result: dict[str, object] = {}
    for phase in ("single", "process", "pickup"):
        url = fresh_pg(URL)
        os.environ["BENCH_URL"] = url
        cmd = [sys.executable, __file__, "--worker", batch]
        conn = await asyncpg.connect(url)
        queries = Queries(AsyncpgDriver(conn))
        await queries.install()

        async def single(n: int) -> None:
            for _ in range(n):
                await queries.enqueue("noop", None)

        async def bulk(n: int) -> None:
            for i in range(0, n, 1000):
                k = min(1000, n - i)
                await queries.enqueue(["noop"] * k, [None] * k, [0] * k)

        async def one(t: float) -> None:
            await queries.enqueue("noop", repr(t).encode())

        if phase == "single":
            result["enqueue_single_jobs_s"] = await timed_enqueue(single, a.single)
        elif phase == "process":
            result["enqueue_bulk_jobs_s"] = await timed_enqueue(bulk, a.jobs)
            result |= await processing(cmd, a.jobs, work, "pgqueuer")
        elif a.samples:
            result |= await pickup(cmd, one, a.samples, work, "pgqueuer")
        await conn.close()
    result["settings"] = f"1 process, batch size {batch}"
    report(result)


async def worker(batch: int) -> None:
    pgq = await factory()
    await pgq.run(batch_size=batch, dequeue_timeout=timedelta(seconds=30))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        asyncio.run(worker(int(sys.argv[2])))
    else:
        asyncio.run(main())
