"""Huey on Redis (RedisHuey, blocking BRPOP reads) or SQLite (SqliteHuey).

Worker: ``huey_consumer huey_bench.huey -q``: Huey's defaults (one process, ``-w 1 -k thread``,
polling from 0.1 s backing off to 10 s on SQLite, the scheduler checking delayed tasks every
1 s) with per-task INFO logging off (``-q``). ``--variant w4`` tries 4 worker threads.
Results off (no-op jobs return nothing). SQLite: WAL with synchronous=NORMAL, rota's default
(Huey's default FULL costs an fsync per commit). Enqueue: one call per job (Huey has no bulk
enqueue); delayed: ``task.schedule(args, delay=...)``.
"""

from __future__ import annotations

import asyncio
import os
import time

from _common import HERE, System, cli, flush_redis, parse_args, record, run
from huey import RedisHuey, SqliteHuey
from huey.storage import SqliteStorage

URL = os.environ.get("BENCH_URL", "redis://127.0.0.1:6379/0")


class NormalSyncStorage(SqliteStorage):
    """WAL with synchronous=NORMAL, rota's SQLite default, so both keep the same durability."""

    def _create_connection(self):  # type: ignore[no-untyped-def]
        conn = super()._create_connection()
        conn.execute("pragma synchronous=1")
        return conn


class NormalSyncHuey(SqliteHuey):
    storage_class = NormalSyncStorage


if URL.startswith("redis"):
    huey = RedisHuey("bench", url=URL, results=False)
else:
    huey = NormalSyncHuey("bench", filename=URL.removeprefix("sqlite:///"), results=False)


@huey.task()
def noop(t: float | None = None) -> None:
    record(t)


def reset() -> None:
    if URL.startswith("redis"):
        flush_redis(URL)
    else:
        huey.flush()


def main() -> None:
    import huey_bench as tasks  # the worker imports this module by name: enqueue its tasks

    a = parse_args()
    workers = a.variant.removeprefix("w") if a.variant.startswith("w") else "1"
    cmd = [*cli("huey_consumer"), "huey_bench.huey", "-q"] + (["-w", workers] if workers != "1" else [])
    system = System(
        name="huey", cmd=cmd, settings=f"huey_consumer defaults (-w {workers} -k thread), -q",
        reset=tasks.reset, enqueue_one=tasks.noop, enqueue_now=tasks.noop,
        enqueue_at=lambda due: tasks.noop.schedule((due,), delay=due - time.time()),
        env={"BENCH_URL": URL}, cwd=HERE,
    )  # fmt: skip
    asyncio.run(run(system, a))


if __name__ == "__main__":
    main()
