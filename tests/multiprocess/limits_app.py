"""The app run by worker processes in the limits test (imported by ``rota worker``).

Each run appends, unbuffered, a line to this process's log when it starts and when it ends
(``start|end <task> <n> <time.time()>``), so the test can rebuild, across processes, how many
runs of a task overlapped and how fast they started, even for a process killed mid-run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from rota import App

app = App()  # ROTA_STORE_URL from the test
_log = os.open(
    os.path.join(os.environ["ROTA_TEST_LOG_DIR"], f"{os.environ['ROTA_INSTANCE_ID']}.log"),
    os.O_WRONLY | os.O_CREAT | os.O_APPEND,
)
_busy_after = int(os.environ.get("ROTA_TEST_BUSY_AFTER", "0"))
_started = 0
#: seconds a capped run takes: long enough for runs of three workers to want to overlap
CAPPED_RUN = float(os.environ.get("ROTA_TEST_CAPPED_RUN", "0.05"))


# tells the test this process has started (it serves as soon as its store is open)
sys.stdout.write("loaded\n")
sys.stdout.flush()


def _note(event: str, task: str, n: int) -> None:
    os.write(_log, f"{event} {task} {n} {time.time():.6f}\n".encode())


@app.task(name="mp.capped", retry=5, concurrency_limit=2)
async def capped(n: int) -> None:
    global _started
    _note("start", "capped", n)
    _started += 1
    if _started == _busy_after:
        # tells the test this worker is in the middle of its share of the capped jobs
        sys.stdout.write("busy\n")
        sys.stdout.flush()
    if _busy_after and _started >= _busy_after:
        # the victim holds its capped runs until it is killed: the other workers cannot
        # start one of those jobs (or a third capped run) until its leases expire
        await asyncio.sleep(3600)
    await asyncio.sleep(CAPPED_RUN)
    _note("end", "capped", n)


@app.task(name="mp.paced", retry=5, rate_limit="50/s")
async def paced(n: int) -> None:
    _note("start", "paced", n)
    await asyncio.sleep(0.002)
    _note("end", "paced", n)
