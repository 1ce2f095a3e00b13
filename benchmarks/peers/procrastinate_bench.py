"""procrastinate on PostgreSQL (psycopg 3 connector, LISTEN/NOTIFY on).

Worker: ``procrastinate --app=procrastinate_bench.app worker -q bench`` (one process) at
procrastinate's defaults: concurrency 1, LISTEN/NOTIFY, polling every 5 s as the fallback
(which is also how a job deferred to a later time is found). ``--variant cN`` tries
concurrency N. Enqueue: ``defer_async`` one at a time; bulk ``batch_defer_async`` of 1,000;
delayed: ``task.configure(schedule_at=...).defer_async``. A fresh database for each phase.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from _common import HERE, System, arecord, cli, fresh_pg, parse_args, run
from procrastinate import App, PsycopgConnector

URL = os.environ.get("BENCH_URL", "postgresql://postgres@127.0.0.1/postgres")
app = App(connector=PsycopgConnector(conninfo=URL))


@app.task(name="noop", queue="bench")
async def noop(t: float | None = None) -> None:
    await arecord(t)


async def main() -> None:
    a = parse_args()
    concurrency = a.variant.removeprefix("c") if a.variant.startswith("c") else "1"
    cmd = [*cli("procrastinate"), "--app=procrastinate_bench.app", "--log-level=warning",
           "worker", "-q", "bench"] + (["-c", concurrency] if concurrency != "1" else [])  # fmt: skip
    state: dict[str, Any] = {}

    async def reset() -> None:
        # a fresh database for each phase: the worker finds only the jobs of that phase
        await close()
        url = fresh_pg(URL)
        system.env["BENCH_URL"] = url
        here = App(connector=PsycopgConnector(conninfo=url))
        state["task"] = here.task(name="noop", queue="bench")(noop.func)
        await here.open_async()
        state["app"] = here
        await here.schema_manager.apply_schema_async()

    async def close() -> None:
        if "app" in state:
            await state.pop("app").close_async()

    async def bulk(n: int) -> None:
        for i in range(0, n, 1000):
            await state["task"].batch_defer_async(*({} for _ in range(min(1000, n - i))))

    async def at(due: float) -> None:
        await state["task"].configure(schedule_at=datetime.fromtimestamp(due, UTC)).defer_async(t=due)

    system = System(
        name="procrastinate", cmd=cmd, settings=f"1 process, concurrency {concurrency}, listen/notify",
        reset=reset, enqueue_one=lambda: state["task"].defer_async(),  # noqa: PLW0108 - set by reset
        enqueue_now=lambda t: state["task"].defer_async(t=t), enqueue_at=at, enqueue_many=bulk,
        close=close, env={"BENCH_URL": URL}, cwd=HERE,
    )  # fmt: skip
    await run(system, a)


if __name__ == "__main__":
    asyncio.run(main())
