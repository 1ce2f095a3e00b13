"""Celery on Redis (broker only; results ignored).

Worker: ``celery -A celery_bench worker --pool=solo`` (one process running the tasks itself;
the default prefork pool forks a child per CPU), without gossip, mingle and heartbeat, and
``worker_prefetch_multiplier=128``: Celery's optimizing guide advises a large multiplier (64,
128) for many short tasks. ``--variant threads`` tries ``--pool=threads --concurrency=8``.
Enqueue: ``apply_async`` one at a time; delayed: ``apply_async(args, eta=...)``.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

from _common import HERE, System, cli, flush_redis, parse_args, record, run
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
    record(t)


def main() -> None:
    import celery_bench as tasks

    a = parse_args()
    pool = ["--pool=threads", "--concurrency=8"] if a.variant == "threads" else ["--pool=solo"]
    cmd = [*cli("celery"), "-A", "celery_bench", "worker", *pool, "-Q", "bench",
           "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]  # fmt: skip
    system = System(
        name="celery", cmd=cmd, settings=" ".join(pool) + ", prefetch multiplier 128, results ignored",
        reset=lambda: flush_redis(URL), enqueue_one=tasks.noop.apply_async,
        enqueue_now=lambda t: tasks.noop.apply_async((t,)),
        enqueue_at=lambda due: tasks.noop.apply_async((due,), eta=datetime.fromtimestamp(due, UTC)),
        env={"BENCH_URL": URL}, cwd=HERE,
    )  # fmt: skip
    asyncio.run(run(system, a))


if __name__ == "__main__":
    main()
