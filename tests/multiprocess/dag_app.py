"""The app run by worker processes in the DAG test (imported by ``rota worker``).

Each run appends, unbuffered, ``start|end <n> <time.time()>`` to this process's log, so the
test can check, across processes, that every job started after all its parents ended.
"""

from __future__ import annotations

import os
import sys
import time

from rota import App

app = App()  # ROTA_STORE_URL from the test
_log = os.open(
    os.path.join(os.environ["ROTA_TEST_LOG_DIR"], f"{os.environ['ROTA_INSTANCE_ID']}.log"),
    os.O_WRONLY | os.O_CREAT | os.O_APPEND,
)

sys.stdout.write("loaded\n")
sys.stdout.flush()


@app.task(name="mp.node")
async def node(n: int) -> int:
    os.write(_log, f"start {n} {time.time():.6f}\n".encode())
    os.write(_log, f"end {n} {time.time():.6f}\n".encode())
    return n
