"""A worker app whose handler does nothing at all (``rota worker _rota_noop_app:app``, store
URL from ``BENCH_URL``): benchmarks/worker_memory.py runs it to see rota's own memory apart
from the benchmark handler's Redis client (``_rota_cli_app.py``). Same task name as there, so
jobs enqueued by either app run on either worker."""

from __future__ import annotations

import os

from rota import App

NOOP = "bench.noop"

app = App(os.environ.get("BENCH_URL", "memory://"))


@app.task(name=NOOP)
async def noop() -> None:
    pass
