"""What rate and concurrency limits cost when they do not bind: processing jobs/s of a task
with ``rate_limit`` and ``concurrency_limit`` set far above what the run reaches, against the
same task without limits, in the same run, per store.

    .venv/bin/python benchmarks/limits_cost.py [--jobs 2000] [--rounds 3] [sqlite postgres redis]

Starts throwaway servers on loopback like the tests do. Each round runs both variants (in
alternating order, each on a fresh namespace): N no-op jobs are enqueued, then one in-process
worker (concurrency 16) runs them; jobs/s is N over the time from the worker's start to the
last success. The best round of each variant is reported, with the cost in percent
((unlimited - limited) / unlimited).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._servers import fresh_url, server_for

from rota import App, JobStatus

STORES = ("sqlite", "postgres", "redis")


async def run_once(url: str, jobs: int, limited: bool) -> float:
    """Jobs/s of one variant on a fresh store."""
    async with App(url) as app:
        options = {"rate_limit": "1000000/s", "concurrency_limit": 10_000} if limited else {}

        @app.task(name="bench.noop", **options)  # type: ignore[call-overload,untyped-decorator]
        async def noop(n: int) -> None:
            return None

        for start in range(0, jobs, 500):
            await app.enqueue_many([noop.prepare(n) for n in range(start, min(jobs, start + 500))])
        began = time.perf_counter()
        async with app.worker(concurrency=16):
            await app.wait_until_idle(timeout=600, queues=["default"])
        elapsed = time.perf_counter() - began
        assert (await app.stats()).counts["default"] == {JobStatus.SUCCEEDED: jobs}
        return jobs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("stores", nargs="*", default=list(STORES))
    args = parser.parse_args()
    print(f"{'store':<10} {'no limits':>12} {'limits':>12} {'cost':>8}")
    for store in args.stores:
        with server_for(store) as base:
            best = {False: 0.0, True: 0.0}
            for r in range(args.rounds):
                for limited in (r % 2 == 0, r % 2 == 1):
                    rate = asyncio.run(run_once(fresh_url(store, base), args.jobs, limited))
                    best[limited] = max(best[limited], rate)
            cost = (best[False] - best[True]) / best[False] * 100
            print(f"{store:<10} {best[False]:>10.0f}/s {best[True]:>10.0f}/s {cost:>7.1f}%", flush=True)


if __name__ == "__main__":
    main()
