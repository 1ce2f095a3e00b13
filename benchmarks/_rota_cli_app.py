"""The app the benchmark's rota workers run, with rota's own CLI: ``rota worker
_rota_cli_app:app`` (store URL from ``BENCH_URL``). Its handlers are written as the peers'
are (benchmarks/peers/*_bench.py): a no-op that makes the one Redis call every system's
handler makes (``_record.py``), and the same with a reference time for the latency phases."""

from __future__ import annotations

import os

from _record import arecord

from rota import App

NOOP = "bench.noop"
STAMP = "bench.stamp"


def build(url: str | None) -> App:
    app = App(url)

    @app.task(name=NOOP)
    async def noop() -> None:
        await arecord()

    @app.task(name=STAMP)
    async def stamp(t: float) -> None:
        await arecord(t)

    return app


app = build(os.environ.get("BENCH_URL", "memory://"))
