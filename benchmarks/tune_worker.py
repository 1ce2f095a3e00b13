"""Sweep rota's worker settings (concurrency x claim_batch) for no-op jobs on one store.

    .venv/bin/python benchmarks/tune_worker.py --store sqlite [--jobs 10000] [--procs 1]

Prints jobs/s from the worker's spawn (what run.py reports) and the steady rate from its
first handler, for each pair; the best pair is what run.py uses by default.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _rota
from _servers import server_for

GRID = [(10, 10), (10, 100), (50, 50), (100, 100), (200, 100), (200, 200), (500, 500)]


async def sweep(store: str, base: str, jobs: int, procs: int, workdir: Path) -> None:
    print(f"{store}: {jobs:,} no-op jobs, {procs} worker process(es)")
    print(f"{'concurrency':>12}{'claim_batch':>12}{'jobs/s':>10}{'steady':>10}")
    for concurrency, batch in GRID:
        tuning = _rota.WorkerTuning(concurrency, batch)
        if store == "memory":
            r = await _rota.processing_in_process(jobs, tuning)
        else:
            r = await _rota.processing(store, base, jobs, procs, tuning, workdir)
        steady = r.get("steady_jobs_s")
        print(f"{concurrency:>12}{batch:>12}{r['jobs_s']:>10,.0f}{steady or 0:>10,.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default="sqlite")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--procs", type=int, default=1)
    a = parser.parse_args()
    with server_for(a.store) as base, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(sweep(a.store, base, a.jobs, a.procs, Path(tmp)))


if __name__ == "__main__":
    main()
