"""Does ``asyncio.eager_task_factory`` (Python 3.12+) speed up the worker? One process, N
pre-enqueued no-op ``async`` jobs, one worker on the same loop; jobs/s from the worker's start
until the store is idle, with the default task factory and with the eager one, interleaved.

    .venv-3.12/bin/python benchmarks/eager_tasks.py [--jobs 5000] [--repeat 5] [--stores memory,sqlite]

Eager tasks run a new task's first step at once, inside ``create_task``, instead of on the next
loop turn: a handler that finishes without suspending never gets scheduled at all. rota's CLI
worker installs the eager factory where it exists (rota.cli.worker); this script is the
measurement behind that choice (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import rota


async def one_run(url: str, jobs: int, *, eager: bool, tuned: bool) -> float:
    app = rota.App(url)

    @app.task(name="noop")
    async def noop(n: int) -> None:
        return None

    async with app:
        for start in range(0, jobs, 1000):
            await app.enqueue_many([noop.prepare(n) for n in range(start, min(start + 1000, jobs))])
        loop = asyncio.get_running_loop()
        previous = loop.get_task_factory()
        if eager:
            loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined]
        try:
            options = {"concurrency": 1000, "claim_batch": 500} if tuned else {}
            worker = app.worker(scheduler=False, retention=None, **options)
            began = time.perf_counter()
            await worker.start()
            await app.wait_until_idle(timeout=300)
            elapsed = time.perf_counter() - began
            await worker.stop()
        finally:
            loop.set_task_factory(previous)
        done = await app.list_jobs(status="succeeded", limit=1)
        assert done, "no job ran"
    return jobs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stores", default="memory,sqlite")
    args = parser.parse_args()
    if not hasattr(asyncio, "eager_task_factory"):
        sys.exit(f"Python {sys.version.split()[0]} has no asyncio.eager_task_factory (3.12+)")
    print(f"Python {sys.version.split()[0]}, {args.jobs} no-op jobs, median of {args.repeat}")
    print(f"{'store':<8} {'worker':<8} {'default jobs/s':>15} {'eager jobs/s':>13} {'change':>8}")
    for store in args.stores.split(","):
        for tuned in (False, True):
            rates: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.repeat):
                for eager in (False, True):  # interleaved, so drift hits both alike
                    with tempfile.TemporaryDirectory() as tmp:
                        url = "memory://" if store == "memory" else f"sqlite:///{Path(tmp) / 'b.db'}"
                        rates[eager].append(asyncio.run(one_run(url, args.jobs, eager=eager, tuned=tuned)))
            base, fast = statistics.median(rates[False]), statistics.median(rates[True])
            label = "tuned" if tuned else "default"
            print(f"{store:<8} {label:<8} {base:>15,.0f} {fast:>13,.0f} {fast / base - 1:>+8.1%}")


if __name__ == "__main__":
    main()
