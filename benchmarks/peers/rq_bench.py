"""RQ on Redis with SimpleWorker (jobs run in the worker process, no fork per job).

Worker: ``rq worker -w rq.worker.SimpleWorker --with-scheduler bench`` (one process; the
scheduler, which RQ needs for ``enqueue_at``, on; results kept with RQ's default TTL; per-job
INFO logging off). Enqueue: ``queue.enqueue`` one at a time; bulk ``queue.enqueue_many`` (one
pipeline per 1,000); delayed: ``queue.enqueue_at(datetime, ...)`` (RQ keeps whole seconds:
each job is due at the next whole second, the instant its lateness is measured from).
"""

from __future__ import annotations

import asyncio
import math
import os
from datetime import UTC, datetime

from _common import HERE, System, cli, flush_redis, parse_args, record, run
from redis import Redis
from rq import Queue

URL = os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0")


def noop(t: float | None = None) -> None:
    record(t)


def main() -> None:
    a = parse_args()
    cmd = [*cli("rq"), "worker", "-w", "rq.worker.SimpleWorker", "--with-scheduler", "-u", URL,
           "--logging_level", "WARNING", "bench"]  # fmt: skip
    queue = Queue("bench", connection=Redis.from_url(URL))

    def bulk(n: int) -> None:
        for i in range(0, n, 1000):
            queue.enqueue_many([Queue.prepare_data("rq_bench.noop") for _ in range(min(1000, n - i))])

    def at(due: float) -> None:
        whole = math.ceil(due)
        queue.enqueue_at(datetime.fromtimestamp(whole, UTC), "rq_bench.noop", float(whole))

    system = System(
        name="rq", cmd=cmd, settings="SimpleWorker, --with-scheduler, 1 process",
        reset=lambda: flush_redis(URL), enqueue_one=lambda: queue.enqueue("rq_bench.noop"),
        enqueue_now=lambda t: queue.enqueue("rq_bench.noop", t),
        enqueue_at=at,
        enqueue_many=bulk, env={"BENCH_URL": URL}, cwd=HERE,
    )  # fmt: skip
    asyncio.run(run(system, a))


if __name__ == "__main__":
    main()
