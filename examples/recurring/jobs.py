"""Recurring jobs on Redis: a cron job with a timeout and retries, an interval job guarded by a
distributed lock, and a task that schedules one-time announcements at run time.

Run a worker (it also fires the schedules): ``rota worker jobs:app``; steer the schedules
with ``python manage.py``. The store is ``ROTA_STORE_URL``, else Redis on localhost.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections import Counter
from dataclasses import dataclass

import rota

app = rota.App(os.environ.get("ROTA_STORE_URL", "redis://127.0.0.1:6379/0"))
log = logging.getLogger("jobs")

# -- logging and metrics hooks: every job event of this process -----------------------------

metrics: Counter[str] = Counter()  # stands for your metrics client (Prometheus, StatsD...)


def on_event(event: rota.Event) -> None:
    task = event.job.task.rsplit(".", 1)[-1]
    metrics[f"{task}.{event.kind}"] += 1
    error = f"  {event.error.summary()}" if event.error is not None else ""
    print(f"{event.kind:<9} {task}{error}", flush=True)


app.on(None, on_event)

# -- the jobs -------------------------------------------------------------------------------

rate_calls = itertools.count(1)


# Six fields: the first is the second, so this fires every 5 seconds of Berlin time; a real
# one might be "0 */6 * * *". A run may take 1 s; then it is cancelled and retried.
@app.cron(
    "*/5 * * * * *",
    tz="Europe/Berlin",
    id="refresh-rates",
    timeout=1,
    retry=rota.RetryPolicy(attempts=3, backoff="exponential", base=0.5, cap=5),
)
async def refresh_rates() -> None:
    if next(rate_calls) == 1:
        await asyncio.sleep(3)  # the upstream hangs on our first call: the timeout cancels it
    log.info("rates refreshed")


# Every 2 seconds. The lock "inventory" is held while a run lasts, by whichever worker runs
# it: two runs never overlap, here or on any other worker using the same store.
@app.every(
    seconds=2,
    id="sync-inventory",
    lock="inventory",
    timeout=10,
    retry=rota.RetryPolicy(attempts=3, backoff="linear", base=1),
)
async def sync_inventory() -> None:
    await asyncio.sleep(0.2)


@app.task(timeout=60)
async def rebuild_inventory() -> None:
    # The same lock, taken by hand: a rebuild never runs while a sync does, and the other way
    # round. If the lock is lost (taken over after a long pause), the block is cancelled.
    async with app.lock("inventory", ttl=30, timeout=10):
        await asyncio.sleep(0.5)


@dataclass
class Announcement:
    text: str


@app.task
async def announce(message: Announcement) -> None:
    print(f"announcement: {message.text}", flush=True)
