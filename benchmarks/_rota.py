"""rota measured in this process with its worker in benchmarks/_rota_worker.py (progress in
files, ``app.worker(...)`` settings from flags): enqueue rates, processing jobs/s with worker
processes, idle pickup latency. Used for the MongoDB and memory rows of run.py
(``_rota_legacy.py``), by tune_worker.py and profile_worker.py; the SQLite, Redis and
PostgreSQL rows go through ``_rota_bench.py`` and ``_measure.py`` like the peers. Each
measurement uses a fresh namespace (a new SQLite file, Redis prefix, PostgreSQL schema or
MongoDB database)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _rota_app import NOOP, STAMP, make_app
from _servers import fresh_url

from rota import App
from rota._models import JobStatus

HERE = Path(__file__).resolve().parent
BULK = 1_000  # jobs per enqueue_many call
POLL = 0.005  # how often the benchmark reads the worker processes' progress files
STALL = 15.0  # no job finished for this long (after start-up): the store is stuck, give up


@dataclass(frozen=True)
class WorkerTuning:
    concurrency: int = 10
    claim_batch: int = 100


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def enqueue_single(url: str, n: int) -> float:
    """jobs/s of ``n`` sequential ``await task.enqueue()`` calls."""
    app = make_app(url)
    await app.open()
    task = app.get_task(NOOP)
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            await task.enqueue()
        return n / (time.perf_counter() - t0)
    finally:
        await app.close()


async def enqueue_bulk(app: App, n: int) -> float:
    """jobs/s of ``app.enqueue_many`` in calls of ``BULK`` jobs."""
    task = app.get_task(NOOP)
    specs = [task.prepare() for _ in range(BULK)]
    t0 = time.perf_counter()
    done = 0
    while done < n:
        chunk = specs[: min(BULK, n - done)]
        await app.enqueue_many(chunk)
        done += len(chunk)
    return n / (time.perf_counter() - t0)


async def _succeeded(app: App) -> int:
    return (await app.store.stats()).total(JobStatus.SUCCEEDED)


async def _counted(app: App) -> int:
    try:
        return await asyncio.wait_for(_succeeded(app), STALL)
    except TimeoutError:
        raise TimeoutError(f"store.stats() did not answer within {STALL:.0f} s") from None


def _spawn(
    url: str, tuning: WorkerTuning, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    cmd = [
        sys.executable, str(HERE / "_rota_worker.py"), url,
        "--concurrency", str(tuning.concurrency), "--claim-batch", str(tuning.claim_batch),
    ]  # fmt: skip
    with log.open("a") as err:
        return subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=err, text=True, env={**os.environ, **(env or {})}
        )


def _stop(procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    reports = []
    for proc in procs:
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        lines = [line for line in (out or "").splitlines() if line.startswith("{")]
        reports.append(json.loads(lines[-1]) if lines else {})
    return reports


async def processing(
    store: str, base: str, n: int, procs: int, tuning: WorkerTuning, workdir: Path, timeout: float = 300
) -> dict[str, Any]:
    """Pre-enqueue ``n`` no-op jobs (timing the bulk enqueue), start ``procs`` worker processes
    and time from their spawn until the N-th handler run, counted in the worker processes as
    for the peers (the benchmark adds up their progress files; asking the store instead would
    load the server under test). Then, outside the timing, wait until the store counts ``n``
    succeeded jobs: every outcome must be durable, and ``durable_lag_s`` says how long after
    the last handler that was seen. Nothing is subtracted: interpreter start-up and imports
    are part of the figure (as for the peers)."""
    url = fresh_url(store, base)
    app = make_app(url)
    await app.open()
    try:
        bulk = await enqueue_bulk(app, n)
        log = workdir / f"rota-worker-{store}-{procs}.log"
        files = [workdir / f"rota-progress-{store}-{procs}-{i}" for i in range(procs)]
        for f in files:
            f.unlink(missing_ok=True)
        t0 = time.time()
        workers = [_spawn(url, tuning, log, {"BENCH_PROGRESS": str(f)}) for f in files]
        try:
            seen, moved = -1, time.time()
            while (done := sum(c for c, _ in _progress(files))) < n:
                now = time.time()
                if done != seen:
                    seen, moved = done, now
                elif now - moved > STALL:
                    raise TimeoutError(f"stalled at {done}/{n} handler runs for {STALL:.0f} s")
                if now - t0 > timeout:
                    raise TimeoutError(f"{done}/{n} handler runs after {timeout}s")
                if any(w.poll() is not None for w in workers):
                    raise RuntimeError(f"a rota worker exited early; see {log}")
                await asyncio.sleep(POLL)
            end = max(last for _, last in _progress(files))
            durable = await _durable(app, n)
        finally:
            reports = _stop(workers)
        firsts = [r["first"] for r in reports if r.get("first")]
        steady = n / (end - min(firsts)) if firsts else None
        return {"jobs_s": n / (end - t0), "steady_jobs_s": steady, "enqueue_bulk_jobs_s": bulk,
                "startup_s": (min(firsts) - t0) if firsts else None,
                "durable_lag_s": durable - end}  # fmt: skip
    finally:
        await app.close()


def _progress(files: list[Path]) -> list[tuple[int, float]]:
    """(handler runs, time of the latest) of each worker process (0 before its first report)."""
    found = []
    for f in files:
        try:
            count, last = f.read_text().split()
        except (FileNotFoundError, ValueError):
            count, last = "0", "0"
        found.append((int(count), float(last)))
    return found


async def _durable(app: App, n: int) -> float:
    """time.time() when the store first counted ``n`` succeeded jobs (polled every 50 ms)."""
    t0 = time.time()
    while (done := await _counted(app)) < n:
        if time.time() - t0 > STALL:
            raise TimeoutError(f"only {done}/{n} outcomes durable {STALL:.0f} s after the last handler")
        await asyncio.sleep(0.05)
    return time.time()


async def processing_in_process(n: int, tuning: WorkerTuning) -> dict[str, Any]:
    """The memory store cannot be shared between processes: the worker runs in this process."""
    app = make_app("memory://")
    await app.open()
    try:
        bulk = await enqueue_bulk(app, n)
        t0 = time.perf_counter()
        worker = app.worker(concurrency=tuning.concurrency, claim_batch=tuning.claim_batch)
        await worker.start()
        while worker.counters.succeeded < n:  # noqa: ASYNC110 - polling is the measurement
            await asyncio.sleep(POLL / 10)
        elapsed = time.perf_counter() - t0
        await worker.shutdown()
        return {"jobs_s": n / elapsed, "enqueue_bulk_jobs_s": bulk}
    finally:
        await app.close()


async def _lines(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())  # noqa: ASYNC240 - a tiny local file
    except FileNotFoundError:
        return 0


async def pickup(
    store: str, base: str, samples: int, workdir: Path, gap: tuple[float, float] = (0.01, 0.04)
) -> dict[str, Any]:
    """Idle pickup latency: a worker process idles on the queue; one job at a time is enqueued
    after a random pause; latency = the handler's time.time() at start minus the time.time()
    taken just before the enqueue call (same host clock in both processes)."""
    url = fresh_url(store, base)
    lat = Path(tempfile.mkstemp(prefix="rota-lat-", dir=workdir)[1])
    os.environ["BENCH_LAT"] = str(lat)  # read by make_app: the in-process worker's handler
    app = make_app(url)
    await app.open()
    in_process = store == "memory"
    worker = app.worker(concurrency=10) if in_process else None
    procs: list[subprocess.Popen[str]] = []
    if worker is not None:
        await worker.start()
    else:
        procs.append(
            _spawn(url, WorkerTuning(), workdir / f"rota-pickup-{store}.log", {"BENCH_LAT": str(lat)})
        )
    task = app.get_task(STAMP)
    try:
        warm = 3
        for i in range(warm):  # the worker is up and idle once these ran
            await task.enqueue(time.time())
            await _wait_lines(lat, i + 1, 60)
        for _ in range(samples):
            await asyncio.sleep(random.uniform(*gap))
            await task.enqueue(time.time())
        await _wait_lines(lat, warm + samples, 60)
        values = [float(x) for x in lat.read_text().split()][warm:]  # noqa: ASYNC240
    finally:
        if worker is not None:
            await worker.shutdown()
        _stop(procs)
        await app.close()
        lat.unlink(missing_ok=True)  # noqa: ASYNC240
    return {
        "p50_ms": percentile(values, 50) * 1e3,
        "p99_ms": percentile(values, 99) * 1e3,
        "samples": len(values),
    }


async def _wait_lines(path: Path, count: int, timeout: float) -> None:
    t0 = time.perf_counter()
    while await _lines(path) < count:
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"pickup: {await _lines(path)}/{count} jobs ran within {timeout}s")
        await asyncio.sleep(0.002)
