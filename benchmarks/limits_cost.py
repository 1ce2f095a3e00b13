"""What rate and concurrency limits cost when they do not bind: processing jobs/s of a task
with ``rate_limit`` and ``concurrency_limit`` set far above what the run reaches, against the
same task without limits, in the same run, per store.

    .venv/bin/python benchmarks/limits_cost.py [--jobs 2000] [--rounds 3] [sqlite postgres redis]

Starts throwaway servers on loopback like the tests do. Each round runs both variants (in
alternating order, each on a fresh namespace): N no-op jobs are enqueued, then one in-process
worker (concurrency 16) runs them; jobs/s is N over the time from the worker's start to the
last success. The run waits for the N-th handler call before it asks ``wait_until_idle``
(which polls ``stats`` and ``next_due``): polling all along would load the store with the
harness's own queries and measure them with the worker. Every round's figures are printed;
the summary is the median of each variant and the median of the rounds' own costs in percent
((unlimited - limited) / unlimited; a round's two variants run back to back, so its cost is
the least disturbed by a machine whose load drifts). The CPU columns are this process's CPU
time per job (every thread, so all of SQLite's work, only the client side of a server store)
and its cost: steadier than throughput on a shared machine. ``mongodb`` may be named too (FerretDB).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._servers import fresh_url, server_for

from rota import App, JobStatus

STORES = ("sqlite", "postgres", "redis")
CONCURRENCY = 16


async def run_once(url: str, jobs: int, limited: bool) -> tuple[float, float]:
    """Jobs/s of one variant on a fresh store, and this process's CPU microseconds per job
    (every thread: SQLite's included; a server's own work is not)."""
    async with App(url) as app:
        options = {"rate_limit": "1000000/s", "concurrency_limit": 10_000} if limited else {}

        ran, all_ran = 0, asyncio.Event()

        @app.task(name="bench.noop", **options)  # type: ignore[call-overload,untyped-decorator]
        async def noop(n: int) -> None:
            nonlocal ran
            ran += 1
            if ran >= jobs:
                all_ran.set()

        for start in range(0, jobs, 500):
            await app.enqueue_many([noop.prepare(n) for n in range(start, min(jobs, start + 500))])
        began, cpu = time.perf_counter(), time.process_time()
        async with app.worker(concurrency=CONCURRENCY):
            await asyncio.wait_for(all_ran.wait(), timeout=600)
            await app.wait_until_idle(timeout=600, queues=["default"])
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        assert (await app.stats()).counts["default"] == {JobStatus.SUCCEEDED: jobs}
        return jobs / elapsed, cpu / jobs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("stores", nargs="*", default=list(STORES))
    args = parser.parse_args()
    print(
        f"{'store':<10} {'round':>5} {'no limits':>12} {'limits':>12} {'cost':>8}"
        f" {'CPU us/job':>16} {'CPU cost':>9}",
        flush=True,
    )
    for store in args.stores:
        with server_for(store) as base:
            runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
            costs: list[tuple[float, float]] = []
            for r in range(args.rounds):
                got: dict[bool, tuple[float, float]] = {}
                for limited in (r % 2 == 0, r % 2 == 1):  # alternating which goes first
                    got[limited] = asyncio.run(run_once(fresh_url(store, base), args.jobs, limited))
                    runs[limited].append(got[limited])
                costs.append(_costs(got[False], got[True]))
                print(_row(store, str(r + 1), got[False], got[True], costs[-1]), flush=True)
            plain, limited_run = _median(runs[False]), _median(runs[True])
            print(_row(store, "med", plain, limited_run, _median(costs)), flush=True)


def _median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def _costs(plain: tuple[float, float], limited: tuple[float, float]) -> tuple[float, float]:
    """The limits' cost in percent: of throughput, and of CPU per job."""
    return (plain[0] - limited[0]) / plain[0] * 100, (limited[1] - plain[1]) / plain[1] * 100


def _row(
    store: str,
    label: str,
    plain: tuple[float, float],
    limited: tuple[float, float],
    cost: tuple[float, float],
) -> str:
    return (
        f"{store:<10} {label:>5} {plain[0]:>10.0f}/s {limited[0]:>10.0f}/s {cost[0]:>7.1f}%"
        f" {plain[1]:>7.1f} {limited[1]:>7.1f} {cost[1]:>8.1f}%"
    )


if __name__ == "__main__":
    main()
