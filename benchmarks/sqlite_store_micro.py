"""Micro-benchmark of the SQLite store alone (no worker): bulk add, then claim+finish batches.

    .venv/bin/python benchmarks/sqlite_store_micro.py [--jobs 20000] [--batch 100]

Prints jobs/s for each phase. The file lives in a temporary directory (a real disk file in
WAL mode, synchronous=NORMAL, as in production).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rota._ids import new_id
from rota._models import Finish, Job, LeaseRef, Outcome
from rota.stores.sqlite import SQLiteStore

LEASE = timedelta(seconds=30)


def make_jobs(n: int, now: datetime) -> list[Job]:
    return [Job(id=new_id(), task="noop", payload=b'{"n":1}', due_at=now, created_at=now) for _ in range(n)]


async def bench(path: Path, n: int, add_batch: int, batch: int) -> None:
    store = SQLiteStore(path)
    await store.open()
    now = datetime.now(UTC)
    try:
        jobs = make_jobs(n, now)
        t0 = time.perf_counter()
        for i in range(0, n, add_batch):
            await store.add(jobs[i : i + add_batch], now=now)
        t_add = time.perf_counter() - t0
        print(f"add     {n:>7} jobs in batches of {add_batch:>5}: {n / t_add:>9,.0f} jobs/s")

        t0, cpu0 = time.perf_counter(), time.process_time()
        done = claims = 0
        t_claim = t_finish = 0.0
        while True:
            c0 = time.perf_counter()
            got = await store.claim(queues=["default"], worker="w", limit=batch, lease_for=LEASE, now=now)
            c1 = time.perf_counter()
            if not got:
                break
            claims += 1
            ok = await store.finish(
                [Finish(j.id, j.token, Outcome.SUCCEEDED) for j in got], worker="w", now=now
            )
            t_claim += c1 - c0
            t_finish += time.perf_counter() - c1
            done += sum(ok)
        total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        print(
            f"claim+finish {done:>7} jobs in batches of {batch:>3}: {done / total:>9,.0f} jobs/s "
            f"(claim {t_claim / claims * 1e3:.2f} ms, finish {t_finish / claims * 1e3:.2f} ms "
            f"per batch; {done / cpu:,.0f} jobs per CPU-second of this process)"
        )

        # heartbeat a batch of running leases
        more = make_jobs(batch, now)
        await store.add(more, now=now)
        got = await store.claim(queues=["default"], worker="w", limit=batch, lease_for=LEASE, now=now)
        refs = [LeaseRef(j.id, j.token) for j in got]
        rounds = 200
        t0 = time.perf_counter()
        for _ in range(rounds):
            await store.heartbeat(refs, lease_for=LEASE, now=now)
        per = (time.perf_counter() - t0) / rounds
        print(f"heartbeat {batch} leases: {per * 1e3:.2f} ms per batch")

        rounds = 2000
        t0 = time.perf_counter()
        for _ in range(rounds):
            await store.get_job("missing")
        per = (time.perf_counter() - t0) / rounds
        print(f"one trivial call (thread hop + query): {per * 1e6:.0f} us")
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--add-batch", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        asyncio.run(bench(Path(tmp) / "bench.db", args.jobs, args.add_batch, args.batch))


if __name__ == "__main__":
    main()
