"""Queue reminders due later: ``python producer.py [COUNT] [SPACING_SECONDS]``.

Reminder n is due n * SPACING seconds from now. The jobs are in Redis once this returns, so
it does not matter whether a consumer runs yet.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from reminders import Reminder, app, send_reminder


async def main(count: int, spacing: float) -> None:
    async with app:
        now = app.clock.now()
        for n in range(1, count + 1):
            due = now + timedelta(seconds=n * spacing)
            job = await send_reminder.enqueue(
                Reminder(f"user-{n}", "your trial ends tomorrow", due),
                at=due,  # or delay=n * spacing
                key=f"trial-ending:user-{n}",  # one reminder per user, however often this runs
            )
            # a job already queued under that key is returned as it is: same id, same due time
            print(f"queued {job.id} for user-{n}, due {job.due_at:%H:%M:%S.%f}"[:-3], flush=True)


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    spacing = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    asyncio.run(main(count, spacing))
