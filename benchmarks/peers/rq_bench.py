"""RQ on Redis with SimpleWorker (jobs run in the worker process, no fork per job).

Worker: ``rq worker -w rq.worker.SimpleWorker bench`` (one process; results kept with RQ's
default TTL). Enqueue: ``queue.enqueue`` one at a time; bulk ``queue.enqueue_many`` (one
pipeline per 1,000).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from _common import BIN, args, flush_redis, mark, pickup, processing, report, timed_enqueue
from redis import Redis
from rq import Queue

URL = os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0")


def noop(t: float | None = None) -> None:
    mark(t)


async def main() -> None:
    a = args()
    work = Path(a.workdir)
    cmd = [
        str(BIN / "rq"),
        "worker",
        "-w",
        "rq.worker.SimpleWorker",
        "-u",
        URL,
        "--logging_level",
        "WARNING",
        "bench",
    ]
    queue = Queue("bench", connection=Redis.from_url(URL))

    def enqueue(n: int) -> None:
        for _ in range(n):
            queue.enqueue("rq_bench.noop")

    def bulk(n: int) -> None:
        for i in range(0, n, 1000):
            queue.enqueue_many([Queue.prepare_data("rq_bench.noop") for _ in range(min(1000, n - i))])

    flush_redis(URL)
    single = await timed_enqueue(enqueue, a.single)
    flush_redis(URL)
    rate = await timed_enqueue(bulk, a.jobs)
    result = {"enqueue_single_jobs_s": single, "enqueue_bulk_jobs_s": rate}
    result |= await processing(cmd, a.jobs, work, "rq")
    flush_redis(URL)
    if a.samples:
        result |= await pickup(cmd, lambda t: queue.enqueue("rq_bench.noop", t), a.samples, work, "rq")
    result["settings"] = "SimpleWorker, 1 process"
    report(result)


if __name__ == "__main__":
    asyncio.run(main())
