"""A PostgreSQL restart under a running ``rota worker`` process: the test's server is stopped
for several backoff steps and started again. The worker resumes within about a second of the
server's return (not at the end of its current backoff step, up to 5 s), and logs the outage
as one warning when it starts and one line when it ends: no tracebacks.
"""

from __future__ import annotations

import asyncio
import math
import signal
import time
import uuid
from pathlib import Path

import pytest

from rota import App
from tests.multiprocess._procs import rota_process
from tests.servers.postgres import PgServer, with_query

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

# real seconds the server stays down: past the 3.2 s backoff step, so that at its return the
# worker sits in a 5 s pause (the resume it would have had without waking up on reconnection)
OUTAGE = 7.0
RESUME = 1.5  # "about a second", with room for a loaded machine


async def test_workers_resume_within_a_second_of_a_restart_and_log_no_traceback(
    postgres_server: PgServer, tmp_path: Path
) -> None:
    if postgres_server.data_dir is None:
        pytest.skip("an external server (ROTA_POSTGRES_URL) cannot be restarted by the test")
    url = with_query(postgres_server.url, schema=f"restart_{uuid.uuid4().hex[:12]}")
    env = {"ROTA_STORE_URL": url, "ROTA_TEST_LOG_DIR": str(tmp_path), "ROTA_INSTANCE_ID": "w1"}
    async with App(url) as app:

        @app.task(name="mp.work", retry=5)  # the task of tests/multiprocess/kill_app.py
        async def work(n: int) -> None: ...

        await work.enqueue(0)
    proc = rota_process(["-v", "worker", "tests.multiprocess.kill_app:app", "--no-scheduler"], env)
    try:
        async with App(url) as app:
            await app.wait_until_idle(timeout=30)  # the worker is up and working
        postgres_server.ctl("stop", "-m", "fast")
        try:
            await asyncio.sleep(OUTAGE)  # the outage itself: real time is the point here
        finally:
            postgres_server.ctl("start")
        back = time.monotonic()
        async with App(url) as app:

            @app.task(name="mp.work", retry=5)
            async def work_again(n: int) -> None: ...

            await work_again.enqueue(1)
            try:
                await app.wait_until_idle(timeout=30)
            except TimeoutError:
                resumed = math.inf  # never: the worker's log below says why
            else:
                resumed = time.monotonic() - back
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(proc.communicate, timeout=30)
    assert proc.returncode == 0, err
    print(f"resumed {resumed:.2f}s after the server came back")
    assert resumed <= RESUME, f"resumed {resumed:.2f}s after the server's return\n{err}"
    assert "Traceback" not in err, err
    warnings = [line for line in err.splitlines() if " WARNING " in line or " ERROR " in line]
    assert len(warnings) == 1 and "store unavailable" in warnings[0], err
    assert len([line for line in err.splitlines() if "store reachable again" in line]) == 1, err
