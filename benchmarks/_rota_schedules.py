"""Schedules at scale (one process): ``python benchmarks/_rota_schedules.py URL N SECONDS``.

Adds N active schedules (half interval, half cron; none due within the next hour) one
``app.schedules.add`` at a time, then runs the scheduler loop in this process and measures its
CPU (``time.process_time`` delta) over SECONDS while no fire is due. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta

from rota import App, Cron, Every


async def main(url: str, n: int, seconds: float) -> dict[str, float]:
    app = App(url)

    @app.task(name="bench.tick")
    async def tick() -> None: ...

    await app.open()
    soon = datetime.now(UTC) + timedelta(hours=1)
    cron = Cron(f"{soon.minute} {(soon.hour + 1) % 24} * * *")  # once a day, an hour or more away
    t0 = time.perf_counter()
    for i in range(n):
        trigger = cron if i % 2 else Every(days=1, start=soon)
        await app.schedules.add(f"s{i:07d}", task=tick, trigger=trigger)
    add_s = time.perf_counter() - t0
    scheduler = app.scheduler()
    runner = asyncio.create_task(scheduler.run())
    await asyncio.sleep(2.0)  # start-up (declared-schedule sync) is not idle time
    passes0, cpu0, wall0 = scheduler.passes, time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    passes = scheduler.passes - passes0
    scheduler.stop()
    await runner
    await app.close()
    return {
        "schedules": n, "add_s": add_s, "add_per_s": n / add_s, "idle_cpu_s": cpu, "idle_wall_s": wall,
        "idle_cpu_pct": 100 * cpu / wall, "passes": passes, "fired": scheduler.fired,
    }  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))), flush=True)
