"""The app run by worker processes in the shutdown tests (imported by ``rota worker``).

Each handler prints ``started`` (unbuffered) once it runs, so the test knows when to signal;
every handler outlasts any grace period the tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

from rota import App

app = App()  # ROTA_STORE_URL from the test

LONG = 60.0  # seconds: far longer than any grace period the tests give


def _started() -> None:
    sys.stdout.write("started\n")
    sys.stdout.flush()


@app.task(name="sd.sleep")
async def sleep() -> None:
    _started()
    await asyncio.sleep(LONG)


@app.task(name="sd.block")
def block() -> None:
    """A plain ``def`` handler stuck in its thread: threads cannot be cancelled."""
    _started()
    time.sleep(LONG)


@app.task(name="sd.stubborn")
async def stubborn() -> None:
    """Swallows every cancellation: only the process's exit ends it."""
    _started()
    deadline = time.monotonic() + LONG
    while time.monotonic() < deadline:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(LONG)
