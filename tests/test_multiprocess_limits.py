"""Three worker processes share a store; a task with ``concurrency_limit=2`` and one with
``rate_limit="50/s"``; one worker is killed with SIGKILL mid-run. From the runs' own
timestamps (tests/multiprocess/limits_app.py): never more than two capped runs at once, the
paced runs' starts within the limit plus one burst over any one-second window, and nothing
lost: every job succeeded, and a job ran twice only when the killed worker was running it
(its history then starts with that worker's ``lease_lost`` attempt)."""

from __future__ import annotations

import asyncio
import bisect
import collections
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rota import App, JobStatus, Outcome
from tests.multiprocess._procs import rota_process, wait_for_line

pytestmark = pytest.mark.slow

CAPPED, PACED = 60, 150
# FerretDB (the MongoDB-compatible server the tests run) is far slower: fewer jobs, same proof
COUNTS = {"mongodb": (16, 60)}
RATE, PERIOD = 50, 1.0  # the app's rate_limit="50/s"


@dataclass
class Runs:
    """What the workers' logs say: per task and job number, the (start, end) of each run
    (end None: its worker was killed during it)."""

    by_worker: dict[str, list[tuple[str, int, float, float | None]]] = field(default_factory=dict)

    @classmethod
    def read(cls, log_dir: Path) -> Runs:
        runs = cls()
        for log in log_dir.glob("*.log"):
            open_runs: dict[tuple[str, int], float] = {}
            done: list[tuple[str, int, float, float | None]] = []
            for line in log.read_text().splitlines():
                parts = line.split()
                if len(parts) != 4:
                    continue  # a line cut short by SIGKILL
                event, task, n, at = parts[0], parts[1], int(parts[2]), float(parts[3])
                if event == "start":
                    open_runs[(task, n)] = at
                else:
                    done.append((task, n, open_runs.pop((task, n)), at))
            done.extend((task, n, start, None) for (task, n), start in open_runs.items())
            runs.by_worker[log.stem] = done
        return runs

    def of(self, task: str) -> list[tuple[str, int, float, float | None]]:
        return [(w, n, s, e) for w, rs in self.by_worker.items() for t, n, s, e in rs if t == task]


async def _all_succeeded(app: App, total: int, *, deadline: float) -> None:
    """Wait (real processes: real time, with a deadline) until ``total`` jobs succeeded. Not
    ``wait_until_idle`` alone: a job its rate limit holds back counts as not due yet there."""
    while (await app.stats()).counts.get("default", {}).get(JobStatus.SUCCEEDED, 0) < total:
        assert time.monotonic() < deadline, "the workers did not finish in time"
        await app.wait_until_idle(timeout=max(0.0, deadline - time.monotonic()), queues=["default"])
        await asyncio.sleep(0.05)  # a poll of real processes' progress, not a test condition


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals that overlap at some instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    peak = now = 0
    for _, step in events:  # (an end sorts before a start at the same instant)
        now += step
        peak = max(peak, now)
    return peak


def most_in_a_window(starts: list[float], window: float) -> int:
    """The largest number of ``starts`` within any half-open window of ``window`` seconds."""
    starts = sorted(starts)
    return max((bisect.bisect_left(starts, s + window) - i for i, s in enumerate(starts)), default=0)


async def test_limits_hold_across_three_workers_one_killed(shared_url: str, tmp_path: Path) -> None:
    capped_total, paced_total = COUNTS.get(shared_url.split(":", 1)[0], (CAPPED, PACED))
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    env = {"ROTA_STORE_URL": shared_url, "ROTA_TEST_LOG_DIR": str(log_dir)}
    async with App(shared_url) as app:
        # the same tasks as tests/multiprocess/limits_app.py
        @app.task(name="mp.capped", retry=5, concurrency_limit=2)
        async def capped(n: int) -> None: ...

        @app.task(name="mp.paced", retry=5, rate_limit="50/s")
        async def paced(n: int) -> None: ...

        specs = [capped.prepare(n) for n in range(capped_total)]
        specs += [paced.prepare(n) for n in range(paced_total)]
        await app.enqueue_many(specs)

        args = [
            "worker",
            "tests.multiprocess.limits_app:app",
            "--concurrency",
            "8",
            "--lease",
            "4",  # survivors keep their leases on a loaded machine (FerretDB's writes take seconds)
            "--no-scheduler",
        ]
        # the victim starts first (on a loaded machine the others could otherwise run every
        # capped job before it starts one) and holds its capped runs from its third on
        victim = rota_process(args, {**env, "ROTA_INSTANCE_ID": "victim", "ROTA_TEST_BUSY_AFTER": "3"})
        survivors = []
        try:
            await asyncio.to_thread(wait_for_line, victim, "busy")
            survivors = [rota_process(args, {**env, "ROTA_INSTANCE_ID": f"survivor-{i}"}) for i in range(2)]
            for survivor in survivors:
                await asyncio.to_thread(wait_for_line, survivor, "loaded")
            victim.send_signal(signal.SIGKILL)
            killed_at = time.time()
            victim.communicate(timeout=10)
            assert victim.returncode == -signal.SIGKILL
            await _all_succeeded(app, capped_total + paced_total, deadline=time.monotonic() + 300)
        finally:
            for proc in (victim, *survivors):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            errors = [proc.communicate(timeout=60)[1] for proc in survivors]
        assert [p.returncode for p in survivors] == [0, 0], errors

        stats = await app.stats()
        assert stats.counts["default"] == {JobStatus.SUCCEEDED: capped_total + paced_total}
        runs = Runs.read(log_dir)

        # never more than two capped runs at once (a run cut short by the kill ends then)
        intervals = [(s, e if e is not None else killed_at) for _, _, s, e in runs.of("capped")]
        assert most_at_once(intervals) <= 2
        assert most_at_once(intervals) == 2  # the limit, not less: the runs did want to overlap

        # the paced jobs' claims, as the store recorded them (each attempt's start): within
        # the limit plus one burst over any one-second window (a full bucket's 50, then one
        # every 20 ms: 99 at most in a half-open second), and not faster overall than the
        # bucket allows after its burst
        jobs = await app.list_jobs(limit=capped_total + paced_total + 1)
        histories = {job.id: await app.attempts(job.id) for job in jobs}
        by_payload = {(job.task.removeprefix("mp."), int(job.payload)): job.id for job in jobs}
        claims = sorted(
            a.started_at.timestamp() for job in jobs if job.task == "mp.paced" for a in histories[job.id]
        )
        assert len(claims) >= paced_total
        assert most_in_a_window(claims, PERIOD) <= 2 * RATE - 1
        assert claims[-1] - claims[0] >= (len(claims) - RATE) / RATE * PERIOD - 0.001
        # the same from the handlers' own timestamps, which trail their claims by however long
        # the worker's event loop takes to start them: within the limit plus one burst over
        # any window of a second less 50 ms of such lag
        starts = sorted(s for _, _, s, _ in runs.of("paced"))
        assert most_in_a_window(starts, PERIOD - 0.05) <= 2 * RATE

        # nothing lost: each job ran once, or twice when the victim was running it
        for task, total in (("capped", capped_total), ("paced", paced_total)):
            count = collections.Counter(n for _, n, _, _ in runs.of(task))
            assert set(count) == set(range(total)), f"a {task} job never ran"
            twice = {n for n, c in count.items() if c > 1}
            # (the victim may have ended a run whose outcome it had not yet written)
            on_victim = {n for w, n, _, _ in runs.of(task) if w == "victim"}
            strays = sorted(twice - on_victim)[:5]
            assert not strays, f"a {task} job ran twice without its worker being killed: " + "; ".join(
                f"{n}: {histories[by_payload[(task, n)]]}" for n in strays
            )
            assert all(c <= 2 for c in count.values())
        victim_runs = {
            (n, task)
            for task in ("capped", "paced")
            for w, n, _, e in runs.of(task)
            if w == "victim" and e is None
        }
        assert victim_runs, "the victim was killed while running jobs"
        for job in jobs:
            history = [(a.outcome, a.worker) for a in histories[job.id]]
            if len(history) > 1 or history[0][0] is not Outcome.SUCCEEDED:
                # the victim's claim, lost with it (whether or not its handler had started)
                assert history[0] == (Outcome.LEASE_LOST, "victim"), history
                assert [o for o, _ in history] == [Outcome.LEASE_LOST, Outcome.SUCCEEDED], history
