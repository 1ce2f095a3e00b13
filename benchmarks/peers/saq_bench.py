"""SAQ on Redis.

Worker: ``saq saq_bench.settings --workers 1`` with ``concurrency`` C (default 50; SAQ's own
default is 10; ``--variant cN`` tries N). Enqueue: ``await queue.enqueue("noop")`` one at a
time (no bulk enqueue without waiting for results).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from _common import BIN, args, flush_redis, mark, pickup, processing, report, timed_enqueue
from saq import Queue

URL = os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0")
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "50"))
queue = Queue.from_url(URL, name="bench")


async def noop(ctx: Any, *, t: float | None = None) -> None:
    mark(t)


settings = {"queue": queue, "functions": [noop], "concurrency": CONCURRENCY}


async def main() -> None:
    import saq_bench as tasks

    a = args()
    work = Path(a.workdir)
    concurrency = a.variant.removeprefix("c") if a.variant.startswith("c") else "50"
    os.environ["BENCH_CONCURRENCY"] = concurrency
    cmd = [str(BIN / "saq"), "saq_bench.settings", "--workers", "1", "--quiet"]
    q = tasks.queue
    await q.connect()

    async def enqueue(n: int) -> None:
        for _ in range(n):
            await q.enqueue("noop")

    async def one(t: float) -> None:
        await q.enqueue("noop", t=t)

    flush_redis(URL)
    single = await timed_enqueue(enqueue, a.single)
    flush_redis(URL)
    rate = await timed_enqueue(enqueue, a.jobs)
    result = {"enqueue_single_jobs_s": single, **await processing(cmd, a.jobs, work, "saq")}
    result["enqueue_used"] = rate
    flush_redis(URL)
    if a.samples:
        result |= await pickup(cmd, one, a.samples, work, "saq")
    if a.memory:
        result |= await memory(q, a.memory)
    await q.disconnect()
    result["settings"] = f"--workers 1, concurrency {concurrency}"
    report(result)


async def memory(q: Queue, n: int) -> dict[str, float]:
    """used_memory delta per pending job scheduled an hour ahead."""
    import time

    from _common import redis_memory

    flush_redis(URL)
    before = redis_memory(URL)
    at = int(time.time()) + 3600
    for i in range(0, n, 1000):
        await asyncio.gather(*(q.enqueue("noop", scheduled=at) for _ in range(min(1000, n - i))))
    per_job = (redis_memory(URL) - before) / n
    flush_redis(URL)
    return {"redis_bytes_per_delayed_job": per_job, "memory_jobs": n}


if __name__ == "__main__":
    asyncio.run(main())
