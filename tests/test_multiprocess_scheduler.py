"""Three scheduler processes on one store fire 1,000 fires of a one-second schedule: exactly
one job per fire, none missing. The processes share a fake time, stepped by the test, and race
for every fire on the real store."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from rota import App
from rota._models import schedule_key
from rota.testing import FakeClock
from rota.triggers import Every
from tests.multiprocess._procs import ROOT

pytestmark = pytest.mark.slow

FIRES = 1000
FIRES_BY_SCHEME = {"mongodb": 150}  # FerretDB is far slower; the same race on fewer fires
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def start_driver(url: str, owner: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.multiprocess.scheduler_driver", url, owner],
        cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(T0.isoformat() + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


async def run_exactly_once_test(url: str) -> None:
    fires_total = FIRES_BY_SCHEME.get(url.split(":", 1)[0], FIRES)
    async with App(url, clock=FakeClock(T0)) as app:

        @app.task(name="mp.tick")
        async def tick() -> None: ...

        await app.schedules.add("every-second", task=tick, trigger=Every(seconds=1, start=T0))
        drivers = [start_driver(url, f"scheduler-{i}") for i in range(3)]
        fired = [0, 0, 0]
        try:
            for step in range(1, fires_total + 1):
                instant = (T0 + timedelta(seconds=step)).isoformat() + "\n"
                for proc in drivers:
                    assert proc.stdin is not None
                    proc.stdin.write(instant)
                    proc.stdin.flush()
                for i, proc in enumerate(drivers):
                    assert proc.stdout is not None
                    answer = proc.stdout.readline().split()
                    assert answer[:1] == ["ok"], (answer, proc.stderr.read() if proc.stderr else "")
                    fired[i] = int(answer[1])
        finally:
            for proc in drivers:
                proc.communicate(timeout=30)  # closes stdin: the driver exits
        assert [p.returncode for p in drivers] == [0, 0, 0]

        jobs = await app.list_jobs(limit=fires_total * 2)
        fire_times = sorted(j.fire_time for j in jobs if j.fire_time is not None)
        assert fire_times == [T0 + timedelta(seconds=s) for s in range(1, fires_total + 1)]
        assert {j.key for j in jobs} == {schedule_key("every-second", t) for t in fire_times}
        assert sum(fired) == fires_total
        assert sum(1 for f in fired if f) >= 2, f"the processes did not race: {fired}"
        info = await app.schedules.get("every-second")
        assert info.run_count == fires_total


async def test_three_scheduler_processes_fire_each_fire_exactly_once(shared_url: str) -> None:
    await run_exactly_once_test(shared_url)
