"""The app of the leader-failover test: a one-second schedule whose every fire must be
materialised (``run_all``), and whose job prints ``tick`` when it runs."""

from __future__ import annotations

import sys

from rota import App

app = App()  # ROTA_STORE_URL from the test


@app.every(seconds=1, id="tick", misfire="run_all", misfire_grace=3600)
async def tick() -> None:
    sys.stdout.write("tick\n")
    sys.stdout.flush()
