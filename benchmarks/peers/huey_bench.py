"""Huey on Redis (RedisHuey, blocking BRPOP reads) or SQLite (SqliteHuey).

Worker: ``huey_consumer huey_bench.huey -w W -k thread -n -C`` (one process; W worker threads,
default 1 — ``--variant w4`` tries 4; periodic tasks and health checks off). Results off
(no-op jobs return nothing). SQLite: WAL with synchronous=NORMAL (as rota's default), default
polling (-d 0.1, backoff to -m 10).
Enqueue: one call per job (Huey has no bulk enqueue).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from _common import BIN, args, flush_redis, mark, pickup, processing, report, timed_enqueue
from huey import RedisHuey, SqliteHuey
from huey.storage import SqliteStorage

URL = os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0")


class NormalSyncStorage(SqliteStorage):
    """WAL with synchronous=NORMAL, rota's SQLite default (Huey's default is FULL: an fsync per
    commit), so both sides keep the same durability."""

    def _create_connection(self):  # type: ignore[no-untyped-def]
        conn = super()._create_connection()
        conn.execute("pragma synchronous=1")
        return conn


class NormalSyncHuey(SqliteHuey):
    storage_class = NormalSyncStorage


if URL.startswith("redis"):
    huey = RedisHuey("bench", url=URL, results=False)
else:
    huey = NormalSyncHuey("bench", filename=URL.removeprefix("sqlite:///"), results=False)


@huey.task()
def noop(t: float | None = None) -> None:
    mark(t)


def reset() -> None:
    if URL.startswith("redis"):
        flush_redis(URL)
    else:
        huey.flush()


async def main() -> None:
    import huey_bench as tasks  # the worker imports this module by name: enqueue its tasks

    a = args()
    work = Path(a.workdir)
    workers = a.variant.removeprefix("w") if a.variant.startswith("w") else "1"
    cmd = [str(BIN / "huey_consumer"), "huey_bench.huey", "-w", workers, "-k", "thread", "-n", "-C", "-q"]

    def enqueue(n: int) -> None:
        for _ in range(n):
            tasks.noop()

    tasks.reset()
    single = await timed_enqueue(enqueue, a.single)
    tasks.reset()
    rate = await timed_enqueue(enqueue, a.jobs)
    result = {"enqueue_single_jobs_s": single, **await processing(cmd, a.jobs, work, "huey")}
    result["enqueue_used"] = rate
    tasks.reset()
    if a.samples:
        result |= await pickup(cmd, tasks.noop, a.samples, work, "huey")
    result["settings"] = f"1 process, -w {workers} -k thread, results off"
    report(result)


if __name__ == "__main__":
    asyncio.run(main())
