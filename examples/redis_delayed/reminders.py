"""The app shared by the producer and the consumer: one task on the "reminders" queue.

The store is ``ROTA_STORE_URL``, else Redis on localhost. A delayed job waits in Redis (a
sorted set by due time) until it is due; then a worker claims it atomically with a lease.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

import rota

app = rota.App(os.environ.get("ROTA_STORE_URL", "redis://127.0.0.1:6379/0"))


@dataclass
class Reminder:
    user: str
    text: str
    due: datetime  # payloads may hold datetimes, UUIDs, nested dataclasses...


@app.task(queue="reminders", retry=5)
async def send_reminder(reminder: Reminder) -> None:
    late = (app.clock.now() - reminder.due).total_seconds()
    print(f"reminded {reminder.user}: {reminder.text} ({late * 1000:.0f} ms after its due time)", flush=True)
