"""A scheduler process driven line by line: each stdin line is an ISO instant; the process
moves its fake clock there, runs one scheduler pass against the shared store and answers
``ok <jobs created so far>``. Several of these race on one store in the exactly-once test."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from rota import App
from rota.testing import FakeClock


async def main(url: str, owner: str) -> None:
    clock = FakeClock(datetime.fromisoformat(sys.stdin.readline().strip()))
    app = App(url, clock=clock, instance_id=owner)

    @app.task(name="mp.tick")
    async def tick() -> None: ...

    scheduler = app.scheduler(owner=owner)
    await app.open()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
        await clock.set(datetime.fromisoformat(line))
        await scheduler.run_once()
        print(f"ok {scheduler.fired}", flush=True)
    await app.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
