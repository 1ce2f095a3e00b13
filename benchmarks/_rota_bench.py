"""rota's driver for run.py, the counterpart of benchmarks/peers/<peer>_bench.py and measured
by the same code (``_measure.py``), run with rota's virtualenv.

Worker: rota's own CLI, ``rota worker _rota_cli_app:app`` plus ``--worker-args`` (none: rota
at its defaults, what a new user's ``rota worker`` runs; run.py adds ``--concurrency 1000
--claim-batch 500`` for "tuned", and a variant's arguments). Leading ``NAME=VALUE`` words of
``--worker-args`` go to the worker's environment instead (settings an App reads from
``ROTA_*``). Enqueue: ``await task.enqueue()`` per job; bulk ``app.enqueue_many`` of 1,000;
delayed: ``task.enqueue(t, at=...)``. A fresh namespace (SQLite file, Redis prefix, PostgreSQL
schema) for each phase. After a processing run, outside its timing, the store must count every
job succeeded (``durable_lag_s``: how long after the last handler start that was seen).
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _measure import System, parse_args, run  # noqa: E402
from _rota_cli_app import NOOP, STAMP, build  # noqa: E402
from _servers import fresh_url  # noqa: E402

from rota import App  # noqa: E402
from rota._models import JobStatus  # noqa: E402

BULK = 1_000  # jobs per enqueue_many call
_ENV_WORD = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def split_worker_args(text: str) -> tuple[dict[str, str], list[str]]:
    """Leading NAME=VALUE words (environment), then the CLI arguments."""
    words = shlex.split(text)
    env: dict[str, str] = {}
    while words and _ENV_WORD.match(words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words


def store_kind(base: str) -> str:
    for kind in ("redis", "postgres"):
        if base.startswith(kind):
            return kind
    return "sqlite"


async def main() -> None:
    a = parse_args()
    kind = store_kind(a.url)
    env, args = split_worker_args(a.worker_args)
    # rota's console script, run by this interpreter (as ``rota worker`` would be)
    cmd = [sys.executable, str(Path(sys.executable).parent / "rota"), "worker", "_rota_cli_app:app", *args]
    state: dict[str, Any] = {}

    async def reset() -> None:
        await close()
        url = fresh_url(kind, a.url)
        system.env["BENCH_URL"] = url
        app = build(url)
        await app.open()
        state["app"] = app

    async def close() -> None:
        if "app" in state:
            await state.pop("app").close()

    def app() -> App:
        return state["app"]  # type: ignore[no-any-return]

    async def many(n: int) -> None:
        specs = [app().get_task(NOOP).prepare() for _ in range(min(BULK, n))]
        for i in range(0, n, BULK):
            await app().enqueue_many(specs[: min(BULK, n - i)])

    async def at(due: float) -> None:
        await app().get_task(STAMP).enqueue(due, at=datetime.fromtimestamp(due, UTC))

    async def durable(n: int, last: float) -> dict[str, Any]:
        """Every outcome written: the store counts n succeeded jobs (polled every 20 ms)."""
        deadline = time.time() + 30
        while True:
            stats = await app().store.stats()
            done = stats.total(JobStatus.SUCCEEDED)
            if done >= n:
                return {"durable_lag_s": time.time() - last}
            if time.time() > deadline:
                failed = stats.total(JobStatus.FAILED)
                raise TimeoutError(
                    f"{done}/{n} outcomes durable ({failed} failed) 30 s after the last handler"
                )
            await asyncio.sleep(0.02)

    async def memory(n: int) -> dict[str, Any]:
        """used_memory delta per pending delayed job (due in an hour)."""
        import redis.asyncio as aioredis

        client = aioredis.from_url(a.url)
        try:
            before = (await client.info("memory"))["used_memory"]
            specs = [app().get_task(NOOP).prepare(delay=3600) for _ in range(min(BULK, n))]
            t0 = time.perf_counter()
            for i in range(0, n, BULK):
                await app().enqueue_many(specs[: min(BULK, n - i)])
            rate = n / (time.perf_counter() - t0)
            after = (await client.info("memory"))["used_memory"]
        finally:
            await client.aclose()
        return {"redis_bytes_per_delayed_job": (after - before) / n, "memory_jobs": n,
                "enqueue_bulk_delayed_jobs_s": rate}  # fmt: skip

    label = a.label or "rota"
    system = System(
        name=label, cmd=cmd, settings=" ".join(a.worker_args.split()) or "defaults",
        reset=reset, enqueue_one=lambda: app().get_task(NOOP).enqueue(),
        enqueue_now=lambda t: app().get_task(STAMP).enqueue(t), enqueue_at=at, enqueue_many=many,
        env=dict(env), cwd=HERE, after_processing=durable,
        memory=memory if kind == "redis" else None, close=close,
    )  # fmt: skip
    await run(system, a)


if __name__ == "__main__":
    asyncio.run(main())
