"""Dramatiq on Redis (RedisBroker, default middleware, max_retries=0).

Worker: ``dramatiq dramatiq_bench --processes 1 --threads T`` (default T=8, Dramatiq's default;
``--variant tN`` tries N). Enqueue: ``actor.send()`` one message at a time (no bulk API).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import dramatiq
from _common import BIN, args, flush_redis, mark, pickup, processing, report, timed_enqueue
from dramatiq.brokers.redis import RedisBroker

URL = os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0")
broker = RedisBroker(url=URL)
dramatiq.set_broker(broker)


@dramatiq.actor(max_retries=0, queue_name="bench")
def noop(t: float | None = None) -> None:
    mark(t)


async def main() -> None:
    import dramatiq_bench as tasks

    a = args()
    work = Path(a.workdir)
    threads = a.variant.removeprefix("t") if a.variant.startswith("t") else "8"
    cmd = [str(BIN / "dramatiq"), "dramatiq_bench", "--processes", "1", "--threads", threads, "-Q", "bench"]

    def enqueue(n: int) -> None:
        for _ in range(n):
            tasks.noop.send()

    flush_redis(URL)
    single = await timed_enqueue(enqueue, a.single)
    flush_redis(URL)
    rate = await timed_enqueue(enqueue, a.jobs)
    result = {"enqueue_single_jobs_s": single, **await processing(cmd, a.jobs, work, "dramatiq")}
    result["enqueue_used"] = rate
    flush_redis(URL)
    if a.samples:
        result |= await pickup(cmd, tasks.noop.send, a.samples, work, "dramatiq")
    result["settings"] = f"--processes 1 --threads {threads}"
    report(result)


if __name__ == "__main__":
    asyncio.run(main())
