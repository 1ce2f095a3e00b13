"""The app of the worker-pool example: one typed task that stands for an I/O-bound call.

``rota.App()`` takes its store from ``ROTA_STORE_URL``, else the SQLite file ``./rota.db``,
so the producer and any number of worker processes on this host share the same jobs.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import rota

app = rota.App()

#: Where "sent" emails are written, one line each: the effect you can count.
OUTBOX = Path(os.environ.get("OUTBOX", "outbox.txt"))
#: How long sending one email takes (stands for an SMTP or HTTP round trip).
SEND_SECONDS = float(os.environ.get("SEND_SECONDS", "0.5"))


@dataclass
class EmailJob:
    user_id: str
    email: str


@app.task(
    queue="email",
    timeout=30,  # a send that hangs is cancelled and retried
    retry=rota.RetryPolicy(attempts=5, backoff="exponential", base=1, cap=60, jitter=True),
)
async def send_email(job: EmailJob) -> None:
    # The handler gets an EmailJob, decoded and validated from the stored JSON: no casts.
    await asyncio.sleep(SEND_SECONDS)
    await asyncio.to_thread(record_sent, job)


def record_sent(job: EmailJob) -> None:
    with OUTBOX.open("a", encoding="utf-8") as outbox:
        outbox.write(f"{job.user_id} {job.email}\n")
