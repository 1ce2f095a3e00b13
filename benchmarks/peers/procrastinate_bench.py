"""procrastinate on PostgreSQL (psycopg 3 connector, LISTEN/NOTIFY on).

Worker: ``procrastinate --app=procrastinate_bench.app worker -c C -q bench`` (one process,
concurrency C=10, default 1; ``--variant cN`` tries N). Enqueue: ``defer_async`` one at a
time; bulk ``batch_defer_async`` of 1,000.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from _common import BIN, args, fresh_pg, mark, pickup, processing, report, timed_enqueue
from procrastinate import App, PsycopgConnector

URL = os.environ.get("BENCH_URL", "postgresql://postgres@127.0.0.1/postgres")
app = App(connector=PsycopgConnector(conninfo=URL))


@app.task(name="noop", queue="bench")
async def noop(t: float | None = None) -> None:
    mark(t)


async def main() -> None:
    a = args()
    work = Path(a.workdir)
    concurrency = a.variant.removeprefix("c") if a.variant.startswith("c") else "10"
    result: dict[str, object] = {}
    # a fresh database for each phase: the worker finds only the jobs of that phase
    for phase in ("single", "process", "pickup"):
        url = fresh_pg(URL)
        os.environ["BENCH_URL"] = url
        cmd = [
            str(BIN / "procrastinate"), "--app=procrastinate_bench.app", "--log-level=warning",
            "worker", "-c", concurrency, "-q", "bench",
        ]  # fmt: skip
        here = App(connector=PsycopgConnector(conninfo=url))
        task = here.task(name="noop", queue="bench")(noop.func)
        async with here.open_async():
            await here.schema_manager.apply_schema_async()

            async def single(n: int) -> None:
                for _ in range(n):
                    await task.defer_async()

            async def bulk(n: int) -> None:
                for i in range(0, n, 1000):
                    await task.batch_defer_async(*({} for _ in range(min(1000, n - i))))

            async def one(t: float) -> None:
                await task.defer_async(t=t)

            if phase == "single":
                result["enqueue_single_jobs_s"] = await timed_enqueue(single, a.single)
            elif phase == "process":
                result["enqueue_bulk_jobs_s"] = await timed_enqueue(bulk, a.jobs)
                result |= await processing(cmd, a.jobs, work, "procrastinate")
            elif a.samples:
                result |= await pickup(cmd, one, a.samples, work, "procrastinate")
    result["settings"] = f"1 process, concurrency {concurrency}, listen/notify"
    report(result)


if __name__ == "__main__":
    asyncio.run(main())
