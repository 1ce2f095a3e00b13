"""kill -9 the leader of three worker processes on one store: a new leader fires the next
schedule within TTL + one renew interval, and across the change no fire is duplicated or lost;
also when the leader dies inside its scheduler pass, holding the schedule's lease."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rota import App
from tests.multiprocess._procs import rota_process

pytestmark = pytest.mark.slow

TTL = 1.0
RENEW = TTL / 3
SLACK = 0.5  # process scheduling on a loaded 2-core machine
# a schedule lease far longer than the election's ttl: the successor must not wait for it
SCHEDULE_LEASE = 30.0


def watch(proc: subprocess.Popen[str], name: str, lines: queue.Queue[tuple[str, str, float]]) -> None:
    """Forward each line of the process's output, with its arrival time."""

    def pump(stream: object, kind: str) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put((name, kind + line.strip(), time.monotonic()))

    threading.Thread(target=pump, args=(proc.stdout, "out:"), daemon=True).start()
    threading.Thread(target=pump, args=(proc.stderr, "err:"), daemon=True).start()


def next_line(
    lines: queue.Queue[tuple[str, str, float]], predicate: object, timeout: float = 20
) -> tuple[str, str, float]:
    deadline = time.monotonic() + timeout
    while True:
        item = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        if predicate(item):  # type: ignore[operator]
            return item


async def run_failover(url: str) -> None:
    killed_wall = 0.0
    env = {"ROTA_STORE_URL": url, "ROTA_LEADER_ELECTION_TTL": str(TTL)}
    lines: queue.Queue[tuple[str, str, float]] = queue.Queue()
    procs = {}
    for i in range(3):
        name = f"node-{i}"
        procs[name] = rota_process(
            ["-v", "worker", "tests.multiprocess.failover_app:app", "--concurrency", "4", "--grace", "1"],
            {**env, "ROTA_INSTANCE_ID": name},
        )
        watch(procs[name], name, lines)
    try:
        leader, _, _ = next_line(lines, lambda item: " leads " in item[1])
        for _ in range(3):
            next_line(lines, lambda item: item[1] == "out:tick")
        procs[leader].send_signal(signal.SIGKILL)
        killed_at, killed_wall = time.monotonic(), time.time()
        _, _, elected_at = next_line(lines, lambda item: " leads " in item[1] and item[0] != leader)
        assert elected_at - killed_at <= TTL + RENEW + SLACK, elected_at - killed_at
        for _ in range(3):
            next_line(lines, lambda item: item[1] == "out:tick" and item[0] != leader)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.communicate(timeout=30)
    survivors = [p.returncode for n, p in procs.items() if n != leader]
    assert survivors == [0, 0]

    async with App(url) as app:
        jobs = [j for j in await app.list_jobs(limit=10_000) if j.schedule_id == "tick"]
        fires = sorted(j.fire_time for j in jobs if j.fire_time is not None)
        assert len(fires) == len(set(fires)) == len(jobs), "a fire was duplicated"
        expected = [fires[0] + timedelta(seconds=s) for s in range(len(fires))]
        assert fires == expected, "a fire was lost across the failover"
        assert fires[-1].timestamp() > killed_wall + 1, "the successor fired nothing"
        info = await app.schedules.get("tick")
        assert info.run_count == len(fires)


async def test_failover_after_kill_loses_and_duplicates_no_fire(shared_url: str) -> None:
    await run_failover(shared_url)


def arm(hold: Path) -> None:
    hold.touch()


async def run_kill_inside_the_pass(url: str, hold: Path) -> None:
    env = {"ROTA_STORE_URL": url, "ROTA_LEADER_ELECTION_TTL": str(TTL)}
    args = ["-v", "worker", "tests.multiprocess.failover_app:app", "--concurrency", "4", "--grace", "1"]
    args += ["--schedule-lease", str(SCHEDULE_LEASE)]
    lines: queue.Queue[tuple[str, str, float]] = queue.Queue()
    procs: dict[str, subprocess.Popen[str]] = {}

    def start(name: str, extra: dict[str, str]) -> None:
        procs[name] = rota_process(args, {**env, "ROTA_INSTANCE_ID": name, **extra})
        watch(procs[name], name, lines)

    try:
        start("node-0", {"ROTA_TEST_HOLD_FILE": str(hold)})  # alone, so it leads
        next_line(lines, lambda item: item[0] == "node-0" and " leads " in item[1])
        for name in ("node-1", "node-2"):
            start(name, {})
            next_line(lines, lambda item, name=name: item[0] == name and " serving queues " in item[1])
        for _ in range(2):
            next_line(lines, lambda item: item[1] == "out:tick")
        arm(hold)  # node-0's next pass holds the schedule's lease...
        _, line, _ = next_line(lines, lambda item: item[0] == "node-0" and item[1].startswith("out:held "))
        procs["node-0"].send_signal(signal.SIGKILL)  # ...and dies there, a few ms after the fire
        killed_at, killed_wall = time.monotonic(), time.time()
        held_fire = datetime.fromisoformat(line.removeprefix("out:held "))
        successor, _, elected_at = next_line(lines, lambda item: " leads " in item[1] and item[0] != "node-0")
        assert elected_at - killed_at <= TTL + RENEW + SLACK, elected_at - killed_at
        for _ in range(3):
            next_line(lines, lambda item: item[1] == "out:tick" and item[0] != "node-0")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.communicate(timeout=30)
    assert [procs[n].returncode for n in ("node-1", "node-2")] == [0, 0]

    async with App(url) as app:
        jobs = [j for j in await app.list_jobs(limit=10_000) if j.schedule_id == "tick"]
        fires = sorted(j.fire_time for j in jobs if j.fire_time is not None)
        assert len(fires) == len(set(fires)) == len(jobs), "a fire was duplicated"
        assert fires == [fires[0] + timedelta(seconds=s) for s in range(len(fires))], "a fire was lost"
        [held_job] = [j for j in jobs if j.fire_time == held_fire]
        # the fire the dead pass held was made by the successor, within TTL + one renewal
        gap = held_job.created_at.timestamp() - killed_wall if held_job.created_at else None
        assert gap is not None and 0 < gap <= TTL + RENEW + SLACK, (gap, successor)
        info = await app.schedules.get("tick")
        assert info.run_count == len(fires)


async def test_leader_killed_inside_its_pass_is_replaced_within_ttl_plus_renew(
    shared_url: str, tmp_path: Path
) -> None:
    await run_kill_inside_the_pass(shared_url, tmp_path / "hold")
