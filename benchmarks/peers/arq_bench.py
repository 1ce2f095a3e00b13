"""arq on Redis.

Worker: ``arq arq_bench.WorkerSettings`` (one process) with ``max_jobs=100`` (default 10) and
``poll_delay=0.05`` s (default 0.5: arq polls the queue, it has no blocking wake-up),
``keep_result=0`` for no-op jobs. Enqueue: ``await pool.enqueue_job("noop")`` one at a time.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from _common import BIN, args, flush_redis, mark, pickup, processing, report, timed_enqueue
from arq import create_pool
from arq.connections import RedisSettings

URL = os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0")


async def noop(ctx: Any, t: float | None = None) -> None:
    mark(t)


class WorkerSettings:
    functions = (noop,)
    redis_settings = RedisSettings.from_dsn(URL)
    max_jobs = 100
    poll_delay = 0.05
    keep_result = 0
    handle_signals = True


async def main() -> None:
    a = args()
    work = Path(a.workdir)
    cmd = [str(BIN / "arq"), "arq_bench.WorkerSettings"]
    pool = await create_pool(RedisSettings.from_dsn(URL))

    async def enqueue(n: int) -> None:
        for _ in range(n):
            await pool.enqueue_job("noop")

    async def one(t: float) -> None:
        await pool.enqueue_job("noop", t)

    flush_redis(URL)
    single = await timed_enqueue(enqueue, a.single)
    flush_redis(URL)
    rate = await timed_enqueue(enqueue, a.jobs)
    result = {"enqueue_single_jobs_s": single, **await processing(cmd, a.jobs, work, "arq")}
    result["enqueue_used"] = rate
    flush_redis(URL)
    if a.samples:
        result |= await pickup(cmd, one, a.samples, work, "arq")
    if a.memory:
        result |= await memory(pool, a.memory)
    await pool.aclose()
    result["settings"] = "max_jobs 100, poll_delay 0.05 s, keep_result 0"
    report(result)


async def memory(pool: Any, n: int) -> dict[str, float]:
    """used_memory delta per pending job deferred by an hour."""
    from _common import redis_memory

    flush_redis(URL)
    before = redis_memory(URL)
    for i in range(0, n, 50):  # 50 at a time: arq's pool allows few connections
        await asyncio.gather(*(pool.enqueue_job("noop", _defer_by=3600) for _ in range(min(50, n - i))))
    per_job = (redis_memory(URL) - before) / n
    flush_redis(URL)
    return {"redis_bytes_per_delayed_job": per_job, "memory_jobs": n}


if __name__ == "__main__":
    asyncio.run(main())
