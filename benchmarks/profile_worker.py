"""Profile rota's processing path: N pre-enqueued no-op jobs, one worker in this process.

    .venv/bin/python benchmarks/profile_worker.py --store sqlite|memory [--jobs 20000]
        [--concurrency 100] [--claim-batch 100] [--top 25]

Prints the jobs/s, time per job in each store call (claim, finish) and the cProfile of the
event-loop thread (and of the SQLite store's own thread, which runs the SQL), sorted by own
time, so one can see where a job's microseconds go.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _rota import enqueue_bulk
from _rota_app import make_app

_thread_profiles: list[cProfile.Profile] = []


def _profile_new_threads(frame: Any, event: str, arg: Any) -> None:
    """Installed with threading.setprofile: starts a cProfile in each new thread (cProfile
    alone sees only the thread that enabled it; the SQLite store runs SQL in its own)."""
    sys.setprofile(None)
    profile = cProfile.Profile()
    _thread_profiles.append(profile)
    profile.enable()


def _timed(store: Any, name: str, spent: dict[str, list[float]]) -> None:
    call = getattr(store, name)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            spent[name].append(time.perf_counter() - t0)

    setattr(store, name, wrapper)


async def run(url: str, n: int, concurrency: int, batch: int, main: cProfile.Profile) -> None:
    app = make_app(url)
    await app.open()
    await enqueue_bulk(app, n)
    spent: dict[str, list[float]] = defaultdict(list)
    for name in ("claim", "finish", "heartbeat", "next_due", "wait_for_jobs"):
        _timed(app.store, name, spent)
    worker = app.worker(concurrency=concurrency, claim_batch=batch, scheduler=False)
    t0, cpu0 = time.perf_counter(), time.process_time()
    main.enable()
    await worker.start()
    while worker.counters.succeeded < n:  # noqa: ASYNC110 - polling is the measurement
        await asyncio.sleep(0.001)
    main.disable()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    await worker.shutdown()
    await app.close()
    print(f"{n:,} jobs in {elapsed:.2f} s: {n / elapsed:,.0f} jobs/s; process CPU {cpu / n * 1e6:.0f} µs/job")
    for name, times in spent.items():
        if times:
            total = sum(times)
            print(
                f"  store.{name:<14} {len(times):>6} calls, {total / len(times) * 1e3:7.3f} ms/call, "
                f"{total / n * 1e6:6.1f} µs/job (wall, awaited)"
            )


def show(profile: cProfile.Profile, title: str, n: int, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\n--- {title}: {total:.2f} s profiled, {total / n * 1e6:.0f} µs/job (profiler overhead included)")
    stats.sort_stats("tottime").print_stats(top)
    print("\n".join(line for line in out.getvalue().splitlines()[6:] if line.strip()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "memory"])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--claim-batch", type=int, default=100)
    parser.add_argument("--top", type=int, default=25)
    a = parser.parse_args()
    main_profile = cProfile.Profile()
    threading.setprofile(_profile_new_threads)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/profile.db" if a.store == "sqlite" else "memory://"
        asyncio.run(run(url, a.jobs, a.concurrency, a.claim_batch, main_profile))
    threading.setprofile(None)  # type: ignore[arg-type]
    show(main_profile, "event-loop thread", a.jobs, a.top)
    for i, profile in enumerate(_thread_profiles):
        if pstats.Stats(profile).total_tt > 0.05:  # type: ignore[attr-defined]
            show(profile, f"other thread {i} (the store's SQL thread)", a.jobs, a.top)


if __name__ == "__main__":
    main()
