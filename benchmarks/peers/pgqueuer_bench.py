"""pgqueuer on PostgreSQL (asyncpg driver, LISTEN/NOTIFY).

Worker: ``PgQueuer.run()`` in a process of its own at pgqueuer's defaults (batch size 10,
dequeue timeout 30 s): what ``pgq run pgqueuer_bench:factory`` calls, since the ``pgq run`` of
1.6.0 stops at start on its own log-level option (``AttributeError: 'str' object has no
attribute 'name'`` in ``setup_fancy_logger``). ``--variant bN`` tries batch size N.
Enqueue: ``Queries.enqueue`` one job per call; bulk with lists of 1,000 (one statement);
delayed: ``execute_after=timedelta``. A fresh database for each phase.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import timedelta
from typing import Any

import asyncpg
from _common import HERE, System, arecord, fresh_pg, parse_args, run
from pgqueuer import AsyncpgDriver, Job, PgQueuer, Queries

URL = os.environ.get("BENCH_URL", "postgresql://postgres@127.0.0.1/postgres")


async def factory() -> PgQueuer:
    conn = await asyncpg.connect(URL)
    pgq = PgQueuer(AsyncpgDriver(conn))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        await arecord(float(job.payload) if job.payload else None)

    return pgq


async def main() -> None:
    a = parse_args()
    batch = a.variant.removeprefix("b") if a.variant.startswith("b") else "10"
    cmd = [sys.executable, __file__, "--worker", batch]
    state: dict[str, Any] = {}

    async def reset() -> None:
        await close()
        url = fresh_pg(URL)
        system.env["BENCH_URL"] = url
        state["conn"] = await asyncpg.connect(url)
        state["queries"] = Queries(AsyncpgDriver(state["conn"]))
        await state["queries"].install()

    async def close() -> None:
        if "conn" in state:
            await state.pop("conn").close()

    async def bulk(n: int) -> None:
        for i in range(0, n, 1000):
            k = min(1000, n - i)
            await state["queries"].enqueue(["noop"] * k, [None] * k, [0] * k)

    async def at(due: float) -> None:
        after = timedelta(seconds=max(0.0, due - time.time()))
        await state["queries"].enqueue("noop", repr(due).encode(), execute_after=after)

    system = System(
        name="pgqueuer", cmd=cmd, settings=f"PgQueuer.run(batch_size={batch})", reset=reset,
        enqueue_one=lambda: state["queries"].enqueue("noop", None),
        enqueue_now=lambda t: state["queries"].enqueue("noop", repr(t).encode()),
        enqueue_at=at, enqueue_many=bulk, close=close, env={"BENCH_URL": URL}, cwd=HERE,
    )  # fmt: skip
    await run(system, a)


async def worker(batch: int) -> None:
    pgq = await factory()
    await pgq.run(batch_size=batch)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        asyncio.run(worker(int(sys.argv[2])))
    else:
        asyncio.run(main())
