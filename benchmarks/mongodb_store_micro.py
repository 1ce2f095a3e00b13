"""Micro-benchmark of the MongoDB store itself (no worker): bulk and single adds, and
claim+finish batches. Starts its own FerretDB (SQLite backend) unless ROTA_MONGODB_URL is set.

    .venv/bin/python benchmarks/mongodb_store_micro.py [--jobs 2000] [--batch 100]

FerretDB 1.x answers only ``{_id: ...}`` lookups from an index; every other query scans the
collection, so claim cost grows with the number of stored jobs there (not on MongoDB).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers.mongodb import MongoServer, database_url, drop_database, start_ferretdb

from rota._ids import new_id
from rota._models import Finish, Job, Outcome
from rota.stores.mongodb import MongoStore, from_url

NOW = datetime(2030, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def jobs(n: int) -> list[Job]:
    return [
        Job(id=new_id(), task="bench.noop", payload=b'{"n":1}', due_at=NOW, created_at=NOW) for _ in range(n)
    ]


async def bench_add(store: MongoStore, n: int, bulk: int) -> None:
    batches = [jobs(bulk) for _ in range(n // bulk)]
    t = time.perf_counter()
    for batch in batches:
        await store.add(batch, now=NOW)
    dt = time.perf_counter() - t
    print(f"add bulk({bulk}):        {n / dt:10,.0f} jobs/s  ({n} jobs in {dt:.2f}s)")


async def bench_add_single(store: MongoStore, n: int) -> None:
    singles = jobs(n)
    t = time.perf_counter()
    for job in singles:
        await store.add([job], now=NOW)
    dt = time.perf_counter() - t
    print(f"add single:            {n / dt:10,.0f} jobs/s  ({n} jobs in {dt:.2f}s)")


async def bench_claim_finish(store: MongoStore, batch: int, label: str) -> None:
    done = 0
    t = time.perf_counter()
    while True:
        claimed = await store.claim(queues=["default"], worker="bench", limit=batch, lease_for=LEASE, now=NOW)
        if not claimed:
            break
        results = [Finish(j.id, j.token, Outcome.SUCCEEDED, result=b"null") for j in claimed]
        applied = await store.finish(results, worker="bench", now=NOW)
        assert all(applied)
        done += len(claimed)
    dt = time.perf_counter() - t
    print(f"claim+finish({batch}) {label}: {done / dt:10,.0f} jobs/s  ({done} jobs in {dt:.2f}s)")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()

    external = os.environ.get("ROTA_MONGODB_URL")
    server = MongoServer(external.rstrip("/")) if external else start_ferretdb()
    database = f"rota_bench_{uuid.uuid4().hex[:8]}"
    store = from_url(database_url(server, database))
    await store.open()
    print(f"store: {store.describe()}")
    try:
        await bench_add(store, args.jobs, args.batch)
        await bench_claim_finish(store, args.batch, f"over {args.jobs}")
        await bench_add_single(store, min(args.jobs, 500))
        await bench_claim_finish(store, 1, f"over {min(args.jobs, 500)}")
    finally:
        await store.close()
        await drop_database(server, database)
        if not external:
            server.stop()
            shutil.rmtree(server.data_dir or "", ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
