"""Queue N emails: ``python enqueue.py 100``."""

from __future__ import annotations

import asyncio
import sys

from emails import EmailJob, app, send_email


async def main(count: int) -> None:
    async with app:
        # one round trip for the whole batch; the key makes a re-run of this script a no-op
        jobs = await app.enqueue_many(
            send_email.prepare(EmailJob(f"user-{n}", f"user-{n}@example.com"), key=f"welcome:user-{n}")
            for n in range(count)
        )
    print(f"queued {len(jobs)} emails")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
