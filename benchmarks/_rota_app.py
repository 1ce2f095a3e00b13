"""The rota app the benchmarks enqueue to and the worker processes run: a no-op task and a
pickup-latency task. Both sides build it with ``make_app(url)`` so task names match."""

from __future__ import annotations

import os
import time

from rota import App

NOOP = "bench.noop"
STAMP = "bench.stamp"

first_start: list[float] = []  # time.time() of the first handler start in this process


def make_app(url: str) -> App:
    app = App(url)
    latency_file = os.environ.get("BENCH_LAT", "")

    @app.task(name=NOOP)
    async def noop() -> None:
        if not first_start:
            first_start.append(time.time())

    @app.task(name=STAMP)
    async def stamp(t: float) -> None:
        # handler start minus the enqueue call's time.time(), written after measuring
        lag = time.time() - t
        with open(latency_file, "a", encoding="ascii") as out:  # noqa: ASYNC230 - after measuring
            out.write(f"{lag:.9f}\n")

    return app
