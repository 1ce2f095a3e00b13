"""How long the dashboard's job list takes on a million jobs, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/dashboard_list.py [--jobs 1000000] [--stores sqlite,postgres]

Loads the jobs in bulk straight into the store's schema (SQLite: one transaction of
executemany; PostgreSQL: INSERT ... SELECT generate_series on a throwaway cluster), analyses
the tables as a running database would have, then times ``Store.list_jobs`` for a page of 50
with each filter the dashboard offers, in both orders, on the first page and deep in the
middle (a keyset cursor), and ``count_finished`` for the last hour. Prints the median and the
worst of 20 runs each, in milliseconds. The target: a page under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _servers import fresh_url, postgres_server

from rota._models import JobFilter, JobStatus
from rota.stores.base import Store
from rota.stores.url import store_from_url

NOW = datetime(2030, 1, 1, tzinfo=UTC)
STATUSES = ["succeeded"] * 14 + ["failed", "pending", "cancelled", "running"] + ["succeeded"] * 2
RUNS = 20


def case_filters(n: int) -> list[tuple[str, JobFilter]]:
    middle = f"{n // 2:032x}"
    return [
        ("all, newest first", JobFilter(limit=50, newest_first=True)),
        ("all, oldest first", JobFilter(limit=50)),
        ("all, a page in the middle", JobFilter(limit=50, newest_first=True, before_id=middle)),
        ("status=failed, newest", JobFilter(limit=50, status=JobStatus.FAILED, newest_first=True)),
        ("status=running, newest", JobFilter(limit=50, status=JobStatus.RUNNING, newest_first=True)),
        (
            "status=failed, middle",
            JobFilter(limit=50, status=JobStatus.FAILED, newest_first=True, before_id=middle),
        ),
        ("queue=q3, newest", JobFilter(limit=50, queue="q3", newest_first=True)),
        ("task=t5, oldest", JobFilter(limit=50, task="t5")),
        ("status+queue, newest", JobFilter(limit=50, status=JobStatus.FAILED, queue="q2", newest_first=True)),
        # no job matches both: the walk of the failed jobs' index goes to its end (the worst case)
        ("status+queue, none match", JobFilter(limit=50, status=JobStatus.FAILED, queue="q1")),
        ("schedule=s2, newest", JobFilter(limit=50, schedule_id="s2", newest_first=True)),
        ("key", JobFilter(limit=50, key=f"k{n // 3 // 10 * 10}")),
        ("time window", JobFilter(limit=50, after_id=f"{n // 4:032x}", before_id=f"{n // 4 + 5000:032x}")),
    ]


def load_sqlite(path: Path, n: int) -> None:
    conn = sqlite3.connect(path)
    now_us = int(NOW.timestamp() * 1_000_000)
    rows = (
        (
            f"{g:032x}", f"t{g % 7}", f"q{g % 4}", b"null", 0, STATUSES[g % 20], now_us, now_us, 1, 1, 1,
            "w" if STATUSES[g % 20] == "running" else None, now_us if STATUSES[g % 20] == "running" else None,
            None, now_us - (g % 7200) * 1_000_000 if STATUSES[g % 20] not in ("pending", "running") else None,
            f"k{g}" if g % 10 == 0 else None, f"s{g % 3}" if g % 5 == 0 else None, None, None, None, None,
        )
        for g in range(1, n + 1)
    )  # fmt: skip
    with conn:
        conn.executemany("INSERT INTO jobs VALUES (" + ",".join("?" * 21) + ")", rows)
        conn.execute("DELETE FROM job_counts")
        conn.execute("INSERT INTO job_counts SELECT queue, status, count(*) FROM jobs GROUP BY queue, status")
    conn.execute("ANALYZE")
    conn.close()


PG_LOAD = """
INSERT INTO jobs (id, task, queue, payload, priority, status, due_at, created_at, attempts, max_attempts,
                  token, lease_owner, lease_expires_at, finished_at, key, schedule_id)
SELECT lpad(to_hex(g), 32, '0'), 't' || (g % 7), 'q' || (g % 4), '\\x6e756c6c', 0, s.status, $1, $1, 1, 1, 1,
       CASE WHEN s.status = 'running' THEN 'w' END, CASE WHEN s.status = 'running' THEN $1::timestamptz END,
       CASE WHEN s.status NOT IN ('pending', 'running')
            THEN $1::timestamptz - (g % 7200) * interval '1 second' END,
       CASE WHEN g % 10 = 0 THEN 'k' || g END, CASE WHEN g % 5 = 0 THEN 's' || (g % 3) END
FROM generate_series(1, $2) g
CROSS JOIN LATERAL (SELECT ($3::text[])[g % 20 + 1] AS status) s
"""


async def load_postgres(store: Store, n: int) -> None:
    async with store._connection.conn() as conn:  # type: ignore[attr-defined]
        await conn.execute(PG_LOAD, NOW, n, STATUSES)
        await conn.execute("VACUUM ANALYZE jobs")


async def timed(call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    await call()  # warm: the statement prepared, the pages cached
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


async def measure(name: str, url: str, n: int) -> None:
    store = store_from_url(url)
    await store.open()
    try:
        start = time.perf_counter()
        if name == "sqlite":
            await store.close()
            load_sqlite(Path(url.removeprefix("sqlite:///")), n)
            await store.open()
        else:
            await load_postgres(store, n)
        print(f"\n{name}: {n:,} jobs loaded in {time.perf_counter() - start:.1f}s")
        for label, flt in case_filters(n):
            found = await store.list_jobs(flt)
            median, worst = await timed(lambda flt=flt: store.list_jobs(flt))  # type: ignore[misc]
            print(
                f"  list_jobs {label:<28} {len(found):>3} jobs  median {median:6.2f} ms worst {worst:6.2f} ms"
            )
        counts = await store.count_finished(
            since=NOW - timedelta(minutes=5), until=NOW, bucket=timedelta(minutes=1)
        )
        median, worst = await timed(
            lambda: store.count_finished(
                since=NOW - timedelta(minutes=5), until=NOW, bucket=timedelta(minutes=1)
            )
        )
        total = sum(c.count for c in counts)
        print(f"  count_finished, 5 min ({total:,} jobs) median {median:6.2f} ms worst {worst:6.2f} ms")
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    stores = args.stores.split(",")
    if "sqlite" in stores:
        with tempfile.TemporaryDirectory(prefix="rota-bench-dash-") as tmp:
            asyncio.run(measure("sqlite", fresh_url("sqlite", tmp), args.jobs))
    if "postgres" in stores:
        with postgres_server() as base:
            asyncio.run(measure("postgres", fresh_url("postgres", base), args.jobs))


if __name__ == "__main__":
    main()
