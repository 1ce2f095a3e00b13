"""The app of the ``ctx.transaction()`` SIGKILL test (imported by ``rota worker``).

Its handler writes one row in its transaction; with ``ROTA_TEST_BLOCK`` set it then prints
``written`` and blocks (the test kills the process there, before the commit)."""

from __future__ import annotations

import asyncio
import os
import sys

from rota import App, JobContext

app = App()  # ROTA_STORE_URL from the test
_table = os.environ["ROTA_TEST_TABLE"]
_block = bool(os.environ.get("ROTA_TEST_BLOCK"))


@app.task(name="mp.effect", retry=3)
async def effect(order: str, ctx: JobContext) -> None:
    async with ctx.transaction() as conn:
        await conn.execute(f"INSERT INTO {_table} VALUES ($1, $2, $3)", order, ctx.worker_id, ctx.attempt)
    if _block:
        sys.stdout.write("written\n")
        sys.stdout.flush()
        await asyncio.Event().wait()  # until SIGKILL
