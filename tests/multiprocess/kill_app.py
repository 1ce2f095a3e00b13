"""The app run by worker processes in the SIGKILL test (imported by ``rota worker``).

Every execution of a job is appended, unbuffered, to this process's log, so the test can
count how often each job really ran, even in a process killed mid-write.
"""

from __future__ import annotations

import asyncio
import os
import sys

from rota import App

app = App()  # ROTA_STORE_URL from the test
_log = os.open(
    os.path.join(os.environ["ROTA_TEST_LOG_DIR"], f"{os.environ['ROTA_INSTANCE_ID']}.log"),
    os.O_WRONLY | os.O_CREAT | os.O_APPEND,
)
_busy_after = int(os.environ.get("ROTA_TEST_BUSY_AFTER", "0"))
_started = 0


@app.task(name="mp.work", retry=5)
async def work(n: int) -> None:
    global _started
    os.write(_log, f"{n}\n".encode())
    _started += 1
    if _started == _busy_after:
        # tells the test this worker is in the middle of its share of the jobs
        sys.stdout.write("busy\n")
        sys.stdout.flush()
    if _busy_after and _started >= _busy_after:
        # the victim holds its runs from then on until it is killed: however late the test
        # gets to the kill on a loaded machine, it is killed mid-run
        await asyncio.sleep(3600)
    await asyncio.sleep(0.004)  # the job's own work
