"""Run the reminders as they come due, until SIGTERM or Ctrl+C: ``python consumer.py``.

Start as many consumers as you like, on any host that reaches the Redis server: each job runs
on one of them. ``rota worker reminders:app --queues reminders`` does the same.
"""

from __future__ import annotations

import asyncio
import signal

from reminders import app


async def main() -> None:
    worker = app.worker(queues=["reminders"], concurrency=10)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    async with app:
        print(f"consumer {worker.id} waiting for reminders", flush=True)
        await worker.run()  # idle, it blocks on Redis pub/sub until a job is added or comes due
    print("consumer stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
