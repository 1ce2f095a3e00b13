"""Waiting until an app's queues are idle (``app.wait_until_idle``): no job running, none due."""

from __future__ import annotations

import asyncio

from rota._models import JobStatus
from rota.runtime.context import RuntimeContext


async def wait_until_idle(context: RuntimeContext, queues: tuple[str, ...], timeout: float | None) -> None:
    """Return once no job of ``queues`` runs and none is due now; ``TimeoutError`` after
    ``timeout`` real seconds. Delayed jobs not yet due do not count."""
    await context.open()
    changed = context.events.changed()
    async with asyncio.timeout(timeout):
        while True:
            changed.clear()
            if await idle(context, queues):
                return
            # woken by a local job event, or by the poll for work done by other
            # processes; never more often than every 20 ms, since stats() may be a query
            try:
                async with asyncio.timeout(0.05):
                    await changed.wait()
                await asyncio.sleep(0.02)
            except TimeoutError:
                pass


async def idle(context: RuntimeContext, queues: tuple[str, ...]) -> bool:
    """Whether no job of ``queues`` runs and none is due now."""
    stats = await context.store.stats()
    for queue in queues:
        if stats.counts.get(queue, {}).get(JobStatus.RUNNING, 0):
            return False
    due = await context.store.next_due(queues=queues)
    return due is None or due > context.clock.now()
