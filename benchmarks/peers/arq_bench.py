"""arq on Redis.

Worker: ``arq arq_bench.WorkerSettings`` (one process) at arq's defaults: ``max_jobs=10``,
``poll_delay=0.5`` s (arq polls the queue; it has no blocking wake-up), results kept an hour.
``--variant fast`` tries ``max_jobs=100, poll_delay=0.05, keep_result=0``. Enqueue:
``await pool.enqueue_job("noop")`` one at a time (no bulk call); delayed: ``_defer_until``.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from _common import HERE, System, arecord, cli, flush_redis, parse_args, redis_memory, run
from arq import create_pool
from arq.connections import RedisSettings

URL = os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0")
FAST = os.environ.get("BENCH_VARIANT") == "fast"


async def noop(ctx: Any, t: float | None = None) -> None:
    await arecord(t)


class WorkerSettings:
    functions = (noop,)
    redis_settings = RedisSettings.from_dsn(URL)
    if FAST:
        max_jobs = 100
        poll_delay = 0.05
        keep_result = 0


async def main() -> None:
    a = parse_args()
    pool = await create_pool(RedisSettings.from_dsn(URL))

    async def memory(n: int) -> dict[str, float]:
        """used_memory delta per pending job deferred by an hour."""
        before = redis_memory(URL)
        for i in range(0, n, 50):  # 50 at a time: arq's pool allows few connections
            await asyncio.gather(*(pool.enqueue_job("noop", _defer_by=3600) for _ in range(min(50, n - i))))
        per_job = (redis_memory(URL) - before) / n
        flush_redis(URL)
        return {"redis_bytes_per_delayed_job": per_job, "memory_jobs": n}

    settings = "max_jobs 100, poll_delay 0.05 s, keep_result 0" if a.variant == "fast" else (
        "defaults: max_jobs 10, poll_delay 0.5 s, keep_result 1 h")  # fmt: skip
    system = System(
        name="arq", cmd=[*cli("arq"), "arq_bench.WorkerSettings"], settings=settings,
        reset=lambda: flush_redis(URL), enqueue_one=lambda: pool.enqueue_job("noop"),
        enqueue_now=lambda t: pool.enqueue_job("noop", t),
        enqueue_at=lambda due: pool.enqueue_job("noop", due, _defer_until=datetime.fromtimestamp(due, UTC)),
        memory=memory, close=pool.aclose, env={"BENCH_URL": URL, "BENCH_VARIANT": a.variant}, cwd=HERE,
    )  # fmt: skip
    await run(system, a)


if __name__ == "__main__":
    asyncio.run(main())
