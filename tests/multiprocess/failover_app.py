"""The app of the leader-failover tests: a one-second schedule whose every fire must be
materialised (``run_all``), and whose job prints ``tick`` when it runs.

With ``ROTA_TEST_HOLD_FILE`` set, once that file exists the next scheduler pass that leases
schedules prints ``held <fire time>`` and then never finishes: the process keeps leading
(its election renews in another task) while the pass holds the schedule's lease, until the
test SIGKILLs it there."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from rota import App

app = App()  # ROTA_STORE_URL from the test


@app.every(seconds=1, id="tick", misfire="run_all", misfire_grace=3600)
async def tick() -> None:
    sys.stdout.write("tick\n")
    sys.stdout.flush()


_hold = os.environ.get("ROTA_TEST_HOLD_FILE")


def _armed() -> bool:
    return _hold is not None and os.path.exists(_hold)


if _hold:
    _store = app.store
    _acquire = _store.acquire_schedules

    async def _acquire_then_hold(**kwargs: Any) -> Any:
        got = await _acquire(**kwargs)
        if got and _armed():
            sys.stdout.write(f"held {got[0].next_fire_at.isoformat()}\n")
            sys.stdout.flush()
            await asyncio.Event().wait()  # the pass holds its leases until the SIGKILL
        return got

    _store.acquire_schedules = _acquire_then_hold  # type: ignore[method-assign]
