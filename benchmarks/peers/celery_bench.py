"""Celery on Redis (broker only; results ignored).

Worker: ``celery -A celery_bench worker --pool=solo`` (one process), without gossip, mingle
and heartbeat, ``worker_prefetch_multiplier=128`` (Celery's advice for many short tasks).
``--variant threads`` tries ``--pool=threads --concurrency=8``. Enqueue: ``apply_async`` one
at a time.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from _common import BIN, args, flush_redis, mark, pickup, processing, report, timed_enqueue
from celery import Celery

URL = os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0")
app = Celery("celery_bench", broker=URL)
app.conf.update(
    task_ignore_result=True,
    worker_prefetch_multiplier=128,
    broker_connection_retry_on_startup=True,
    task_default_queue="bench",
    worker_hijack_root_logger=False,
)


@app.task(name="bench.noop")
def noop(t: float | None = None) -> None:
    mark(t)


async def main() -> None:
    import celery_bench as tasks

    a = args()
    work = Path(a.workdir)
    pool = ["--pool=threads", "--concurrency=8"] if a.variant == "threads" else ["--pool=solo"]
    cmd = [str(BIN / "celery"), "-A", "celery_bench", "worker", *pool, "-Q", "bench",
           "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]  # fmt: skip

    def enqueue(n: int) -> None:
        for _ in range(n):
            tasks.noop.apply_async()

    flush_redis(URL)
    single = await timed_enqueue(enqueue, a.single)
    flush_redis(URL)
    rate = await timed_enqueue(enqueue, a.jobs)
    result = {"enqueue_single_jobs_s": single, **await processing(cmd, a.jobs, work, "celery")}
    result["enqueue_used"] = rate
    flush_redis(URL)
    if a.samples:
        result |= await pickup(cmd, lambda t: tasks.noop.apply_async((t,)), a.samples, work, "celery")
    result["settings"] = " ".join(pool) + ", prefetch multiplier 128, results ignored"
    report(result)


if __name__ == "__main__":
    asyncio.run(main())
