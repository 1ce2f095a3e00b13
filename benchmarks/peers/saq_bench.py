"""SAQ on Redis.

Worker: ``saq saq_bench.settings --workers 1`` at SAQ's default ``concurrency`` of 10
(``--variant cN`` tries N); SAQ moves scheduled jobs to the queue on a 1 s timer (its default).
Enqueue: ``await queue.enqueue("noop")`` one at a time (no bulk enqueue that does not wait for
results); delayed: ``enqueue(..., scheduled=<epoch seconds>)``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from _common import HERE, System, arecord, cli, flush_redis, parse_args, redis_memory, run
from saq import Queue

URL = os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0")
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "10"))
queue = Queue.from_url(URL, name="bench")


async def noop(ctx: Any, *, t: float | None = None) -> None:
    await arecord(t)


settings = {"queue": queue, "functions": [noop], "concurrency": CONCURRENCY}


async def main() -> None:
    import saq_bench as tasks

    a = parse_args()
    concurrency = a.variant.removeprefix("c") if a.variant.startswith("c") else "10"
    q = tasks.queue
    await q.connect()

    async def memory(n: int) -> dict[str, float]:
        """used_memory delta per pending job scheduled an hour ahead."""
        import time

        before = redis_memory(URL)
        at = int(time.time()) + 3600
        for i in range(0, n, 1000):
            await asyncio.gather(*(q.enqueue("noop", scheduled=at) for _ in range(min(1000, n - i))))
        per_job = (redis_memory(URL) - before) / n
        flush_redis(URL)
        return {"redis_bytes_per_delayed_job": per_job, "memory_jobs": n}

    system = System(
        name="saq", cmd=[*cli("saq"), "saq_bench.settings", "--workers", "1", "--quiet"],
        settings=f"--workers 1, concurrency {concurrency}", reset=lambda: flush_redis(URL),
        enqueue_one=lambda: q.enqueue("noop"), enqueue_now=lambda t: q.enqueue("noop", t=t),
        # SAQ documents ``scheduled`` as int epoch seconds; a float is kept as given (a sorted-set
        # score) and compared with the time on each 1 s sweep, so no job is due early
        enqueue_at=lambda due: q.enqueue("noop", t=due, scheduled=due),
        memory=memory, close=q.disconnect, env={"BENCH_URL": URL, "BENCH_CONCURRENCY": concurrency},
        cwd=HERE,
    )  # fmt: skip
    await run(system, a)


if __name__ == "__main__":
    asyncio.run(main())
