"""A worker pool for the email queue, stopped gracefully by SIGTERM or Ctrl+C.

``python worker.py --concurrency 20 --lease 30 --grace 10`` does what
``rota worker emails:app --queues email --concurrency 20 --lease 30 --grace 10`` does, written
out so you can see (and change) each step.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import rota

from emails import app


async def main(concurrency: int, lease: float, grace: float) -> None:
    worker = app.worker(
        queues=["email"],
        concurrency=concurrency,  # jobs at once; the worker claims only as many as it has free slots
        lease=lease,  # visibility timeout: a job whose worker died is claimed again after this
        grace=grace,  # on SIGTERM, how long running jobs may finish before they are given back
    )

    def show(event: rota.Event) -> None:
        print(f"{event.kind:<9} {event.job.id[-6:]} ({worker.active} running)", flush=True)

    app.on([rota.EventKind.STARTED, rota.EventKind.RELEASED], show)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)  # stop claiming, wait up to grace, give back the rest
    async with app:
        print(f"worker {worker.id} serving {', '.join(worker.queues)}; Ctrl+C stops it", flush=True)
        await worker.run()
    counters = worker.counters
    print(f"stopped: {counters.succeeded} sent, {counters.released} given back", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--lease", type=float, default=30.0, help="seconds")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds")
    args = parser.parse_args()
    asyncio.run(main(args.concurrency, args.lease, args.grace))
