"""The rota app the benchmarks enqueue to and the worker processes run: a no-op task and a
pickup-latency task. Both sides build it with ``make_app(url)`` so task names match."""

from __future__ import annotations

import os
import time

from rota import App

NOOP = "bench.noop"
STAMP = "bench.stamp"

first_start: list[float] = []  # time.time() of the first handler start in this process
# no-op handler runs in this process: [count, time.time() of the latest]; the worker process
# reports it (see _rota_worker.py) so the benchmark times the N-th handler run, as for peers
progress: list[float] = [0, 0.0]


def make_app(url: str) -> App:
    app = App(url)
    latency_file = os.environ.get("BENCH_LAT", "")

    @app.task(name=NOOP)
    async def noop() -> None:
        now = time.time()
        if not first_start:
            first_start.append(now)
        progress[0] += 1
        progress[1] = now

    @app.task(name=STAMP)
    async def stamp(t: float) -> None:
        # handler start minus the enqueue call's time.time(), written after measuring
        lag = time.time() - t
        with open(latency_file, "a", encoding="ascii") as out:  # noqa: ASYNC230 - after measuring
            out.write(f"{lag:.9f}\n")

    return app
