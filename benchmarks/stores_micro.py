"""Client CPU per job of the store hot paths (add, claim, finish), for every store.

    .venv/bin/python benchmarks/stores_micro.py [--jobs 5000] [--batch 100] [--rounds 3] [memory sqlite ...]

Starts throwaway servers like the tests do (PostgreSQL, Redis, FerretDB on loopback) for the
stores named (default: all five). Reports, per store and phase, the client process's CPU time
per job (``time.process_time``, every thread of this process: SQLite's database thread
included, the servers' own CPU excluded) and the wall time, the best of ``--rounds`` runs.
CPU per job is what the store's own code (encoding rows, decoding them into jobs) costs, and
it is far steadier than throughput on a shared machine; it is the figure to compare before
and after a change of the codec.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rota._ids import new_id
from rota._models import Finish, Job, Outcome
from rota.stores.url import store_from_url

NOW = datetime(2030, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=60)
STORES = ("memory", "sqlite", "postgres", "redis", "mongodb")


def make_jobs(n: int) -> list[Job]:
    return [
        Job(id=new_id(), task="bench.noop", payload=b'{"n":1}', due_at=NOW, created_at=NOW) for _ in range(n)
    ]


class Phase:
    def __init__(self) -> None:
        self.cpu = self.wall = 0.0

    @contextmanager
    def timed(self) -> Iterator[None]:
        c, w = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu += time.process_time() - c
            self.wall += time.perf_counter() - w


async def one_run(url: str, n: int, batch: int) -> dict[str, tuple[float, float]]:
    store = store_from_url(url)
    await store.open()
    add, claim, finish = Phase(), Phase(), Phase()
    try:
        jobs = make_jobs(n)
        for i in range(0, n, batch):
            with add.timed():
                await store.add(jobs[i : i + batch], now=NOW)
        done = 0
        while True:
            with claim.timed():
                got = await store.claim(queues=["default"], worker="w", limit=batch, lease_for=LEASE, now=NOW)
            if not got:
                break
            results = [Finish(j.id, j.token, Outcome.SUCCEEDED, result=b"null") for j in got]
            with finish.timed():
                applied = await store.finish(results, worker="w", now=NOW)
            assert all(applied)
            done += len(got)
        assert done == n, (done, n)
    finally:
        await store.close()
    return {
        name: (p.cpu / n * 1e6, p.wall / n * 1e6)
        for name, p in (("add", add), ("claim", claim), ("finish", finish))
    }


def servers(names: list[str], tmp: Path) -> tuple[dict[str, Callable[[], str]], list[Callable[[], None]]]:
    """A URL factory (a fresh namespace each call) per store, and the servers' stop functions."""
    urls: dict[str, Callable[[], str]] = {}
    stops: list[Callable[[], None]] = []
    if "memory" in names:
        urls["memory"] = lambda: "memory://"
    if "sqlite" in names:
        urls["sqlite"] = lambda: f"sqlite:///{tmp / (uuid.uuid4().hex + '.db')}"
    if "postgres" in names:
        from tests.servers.postgres import remove_cluster, start_cluster, with_query

        pg = start_cluster()
        stops.append(lambda: remove_cluster(pg))
        urls["postgres"] = lambda: with_query(pg.url, schema="b" + uuid.uuid4().hex[:10])
    if "redis" in names:
        from tests.servers.redis import RedisServer, with_prefix

        redis = RedisServer(tmp / "redis")
        redis.start()
        stops.append(redis.stop)
        urls["redis"] = lambda: with_prefix(redis.url, "b" + uuid.uuid4().hex[:10])
    if "mongodb" in names:
        from tests.servers.mongodb import database_url, start_ferretdb

        mongo = start_ferretdb()

        def stop_mongo() -> None:
            mongo.stop()
            shutil.rmtree(mongo.data_dir or "", ignore_errors=True)

        stops.append(stop_mongo)
        urls["mongodb"] = lambda: database_url(mongo, "b" + uuid.uuid4().hex[:10])
    return urls, stops


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stores", nargs="*", help=f"any of {', '.join(STORES)} (default: all)")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    unknown = set(args.stores) - set(STORES)
    if unknown:
        parser.error(f"unknown store(s): {', '.join(sorted(unknown))}")
    names = [s for s in STORES if s in (args.stores or STORES)]
    with tempfile.TemporaryDirectory(prefix="rota-bench-") as tmp:
        urls, stops = servers(names, Path(tmp))
        try:
            print(
                f"{'store':<9} {'phase':<7} {'CPU us/job':>10} {'wall us/job':>11}  (best of {args.rounds})"
            )
            for name in names:
                n = args.jobs if name != "mongodb" else min(args.jobs, 2000)  # FerretDB scans
                runs = [asyncio.run(one_run(urls[name](), n, args.batch)) for _ in range(args.rounds)]
                for phase in ("add", "claim", "finish"):
                    cpu = min(r[phase][0] for r in runs)
                    wall = min(r[phase][1] for r in runs)
                    print(f"{name:<9} {phase:<7} {cpu:>10.1f} {wall:>11.1f}")
        finally:
            for stop in stops:
                stop()


if __name__ == "__main__":
    main()
