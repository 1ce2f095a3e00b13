"""One rota worker process for the benchmarks: ``python benchmarks/_rota_worker.py URL``.

Like ``rota worker`` but with the worker settings the benchmark tunes (``--concurrency``,
``--claim-batch``). Runs until SIGTERM, then prints one JSON line: the worker's counters and
the time its first handler started. ``--profile FILE`` writes a cProfile of the whole run.
With ``BENCH_PROGRESS=path`` in the environment it also keeps ``path`` holding "<no-op
handler runs> <time.time() of the latest>", rewritten every 5 ms while it changes: the
benchmark sums these over its worker processes to find the N-th handler run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _rota_app import first_start, make_app, progress


def _write_progress(path: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as out:
        out.write(f"{int(progress[0])} {progress[1]}")
    os.replace(tmp, path)


async def _report_progress(path: str) -> None:
    written = -1.0
    while True:
        if progress[0] != written:
            written = progress[0]
            _write_progress(path)
        await asyncio.sleep(0.005)


async def work(url: str, concurrency: int, claim_batch: int) -> dict[str, object]:
    app = make_app(url)
    worker = app.worker(concurrency=concurrency, claim_batch=claim_batch)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    path = os.environ.get("BENCH_PROGRESS")
    reporter = asyncio.create_task(_report_progress(path)) if path else None
    try:
        await worker.run()
    finally:
        if reporter is not None and path:
            reporter.cancel()
            _write_progress(path)
        await app.close()
    c = worker.counters
    return {"claimed": c.claimed, "succeeded": c.succeeded, "first": first_start[0] if first_start else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--claim-batch", type=int, default=100)
    parser.add_argument("--profile", help="write a cProfile of the run to this file")
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        result = profiler.runcall(asyncio.run, work(args.url, args.concurrency, args.claim_batch))
        profiler.dump_stats(args.profile)
    else:
        result = asyncio.run(work(args.url, args.concurrency, args.claim_batch))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
