"""rota on the stores measured as before issue 16 (MongoDB on FerretDB, memory): rota only,
its worker in benchmarks/_rota_worker.py (``app.worker(...)`` with the tuned settings), the
measurements in benchmarks/_rota.py; and the scheduler's idle CPU with many schedules."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _rota
from _servers import fresh_url

HERE = Path(__file__).resolve().parent
# jobs per processing run on FerretDB: over SQLite it scans the collection for every command
# (docs/mongodb.md), so each costs time in proportion to the jobs stored
SLOW_JOBS = {"mongodb": 200, "mongodb-pg": 1_000}


def bench(store: str, base: str, opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        rota = asyncio.run(_bench(store, base, opts, workdir))
    except Exception as exc:  # a store still being finished: report, go on
        rota = {"error": f"{type(exc).__name__}: {exc}"}
    rota["bench_s"] = time.perf_counter() - t0
    return {"rota": rota}


async def _bench(store: str, base: str, opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    tuning = _rota.WorkerTuning(opts.concurrency, opts.claim_batch)
    jobs, single = opts.jobs, opts.single
    if store in SLOW_JOBS:  # FerretDB is slow: fewer jobs, and batches it writes within STALL
        jobs, single = min(jobs, SLOW_JOBS[store]), min(single, SLOW_JOBS[store] // 10)
        tuning = _rota.WorkerTuning(min(tuning.concurrency, 100), min(tuning.claim_batch, 100))
    out: dict[str, Any] = {"settings": f"concurrency {tuning.concurrency}, claim_batch {tuning.claim_batch}"}
    errors: list[str] = []

    async def phase(name: str, work: Any) -> None:
        # a store still being finished may hang or fail: report it and go on with the rest
        try:
            out[name] = await asyncio.wait_for(work, opts.phase_timeout)
        except TimeoutError as exc:
            errors.append(f"{name}: TimeoutError {exc or f'not done within {opts.phase_timeout:.0f} s'}")
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__} {exc}".strip())

    await phase("enqueue_single_jobs_s", _rota.enqueue_single(fresh_url(store, base), single))
    if store == "memory":
        await phase("process_1", _rota.processing_in_process(jobs, tuning))
    else:
        await phase("process_1", _rota.processing(store, base, jobs, 1, tuning, workdir))
        await phase("process_4", _rota.processing(store, base, jobs, 4, tuning, workdir))
    out["settings"] += f"; {jobs:,} jobs"
    out["enqueue_bulk_jobs_s"] = out.get("process_1", {}).get("enqueue_bulk_jobs_s")
    samples = min(opts.samples, 50) if store in SLOW_JOBS else opts.samples
    await phase("pickup", _rota.pickup(store, base, samples, workdir, opts.gap))
    if errors:
        out["errors"] = errors
    return out


def run_schedules(store: str, base: str, opts: argparse.Namespace) -> dict[str, Any]:
    url = "memory://" if store == "memory" else f"sqlite:///{base}/schedules.db"
    cmd = [sys.executable, str(HERE / "_rota_schedules.py"), url, str(opts.schedules), str(opts.idle_seconds)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after 900 s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
