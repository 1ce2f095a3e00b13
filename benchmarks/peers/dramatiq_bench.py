"""Dramatiq on Redis (RedisBroker, default middleware, max_retries=0).

Worker: ``dramatiq dramatiq_bench --processes 1 --threads 8``: Dramatiq's default of 8 worker
threads, one process (its default is one per CPU; the benchmark compares one worker process).
``--variant tN`` tries N threads. Enqueue: ``actor.send()`` one message at a time (no bulk
API); delayed: ``actor.send_with_options(args, delay=ms)``.
"""

from __future__ import annotations

import asyncio
import os
import time

import dramatiq
from _common import HERE, System, cli, flush_redis, parse_args, record, run
from dramatiq.brokers.redis import RedisBroker

URL = os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0")
broker = RedisBroker(url=URL)
dramatiq.set_broker(broker)


@dramatiq.actor(max_retries=0, queue_name="bench")
def noop(t: float | None = None) -> None:
    record(t)


def main() -> None:
    import dramatiq_bench as tasks

    a = parse_args()
    threads = a.variant.removeprefix("t") if a.variant.startswith("t") else "8"
    cmd = [*cli("dramatiq"), "dramatiq_bench", "--processes", "1", "--threads", threads, "-Q", "bench"]

    def at(due: float) -> None:
        tasks.noop.send_with_options(args=(due,), delay=max(0, round((due - time.time()) * 1000)))

    system = System(
        name="dramatiq", cmd=cmd, settings=f"--processes 1 --threads {threads}",
        reset=lambda: flush_redis(URL), enqueue_one=tasks.noop.send, enqueue_now=tasks.noop.send,
        enqueue_at=at, env={"BENCH_URL": URL}, cwd=HERE,
    )  # fmt: skip
    asyncio.run(run(system, a))


if __name__ == "__main__":
    main()
