"""The handler's own ceiling: how many of its Redis calls one asyncio process makes a second.

Every benchmarked handler makes one Redis call (``_record.arecord`` for async handlers: an
``RPUSH`` through redis.asyncio's blocking pool of 100). A worker process runs its handlers on
one thread, so no async worker of one process can run this handler faster than the process
can make the call alone. This measures that: ``K`` coroutines, each making the call in a loop
with nothing else around it (no claim, no task per job, no outcome), ``N`` calls in all, on
the event loop rota's worker runs on; the rate and the process CPU per call, median of
``--rounds``. ``K``: ``--in-flight``, by default rota's default concurrency for async
handlers (250); run.py adds its tuned ``--concurrency``.

Run by ``run.py`` with rota's interpreter after each store's rows (so in the same run as the
systems it bounds), against the harness's record server; prints ``RESULT {json}``.

    benchmarks/.venv-rota/bin/python benchmarks/_ceiling.py --record-url redis://127.0.0.1:P/0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import _record

from rota import _loop
from rota.runtime.worker_settings import ASYNC_CONCURRENCY


async def _round(in_flight: int, n: int) -> tuple[float, float]:
    """(calls/s, process CPU us per call) of n calls made by in_flight coroutines."""
    left = n

    async def caller() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await _record.arecord()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(in_flight)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    return n / wall, cpu / n * 1e6


async def measure(in_flight: tuple[int, ...], n: int, rounds: int) -> dict[str, Any]:
    await _record.arecord()  # the pool's first connection, outside the timing
    out: dict[str, Any] = {"calls": n, "rounds": rounds}
    for k in in_flight:
        results = [await _round(k, n) for _ in range(rounds)]
        out[str(k)] = {
            "calls_s": statistics.median(r[0] for r in results),
            "cpu_us_per_call": statistics.median(r[1] for r in results),
            "calls_s_runs": [r[0] for r in results],
        }
    await _record.aclear()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--record-url", required=True)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--in-flight", type=int, action="append",
        help=f"calls in flight at once (repeatable; default {ASYNC_CONCURRENCY})",
    )  # fmt: skip
    a = parser.parse_args()
    in_flight = tuple(dict.fromkeys(a.in_flight or [ASYNC_CONCURRENCY]))
    if a.calls < 1 or min(in_flight) < 1:
        parser.error("--calls and --in-flight must be at least 1")
    _record.URL = a.record_url  # read at the first call
    _record.KEY = "bench:ceiling"
    result = _loop.run(measure(in_flight, a.calls, a.rounds))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
