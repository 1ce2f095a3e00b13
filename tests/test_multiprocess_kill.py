"""Three worker processes on one SQLite file, 5,000 jobs, one worker killed with SIGKILL
mid-run: every job succeeds, none is lost, and every job that ran twice was running on the
killed worker (its history shows the ``lease_lost`` attempt)."""

from __future__ import annotations

import asyncio
import collections
import signal
from pathlib import Path

import pytest

from rota import App, JobStatus, Outcome
from tests.multiprocess._procs import rota_process, wait_for_line

pytestmark = pytest.mark.slow

JOBS = 5000
LEASE = "4"
# FerretDB (the MongoDB-compatible server the tests run) is far slower than the other stores
# on this workload; fewer jobs keep the same proof within the suite's time budget
JOBS_BY_SCHEME = {"mongodb": 80}


def executions(log_dir: Path) -> dict[str, collections.Counter[int]]:
    runs: dict[str, collections.Counter[int]] = {}
    for log in log_dir.glob("*.log"):
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        runs[log.stem] = collections.Counter(int(n) for n in lines)
    return runs


async def run_kill_test(url: str, tmp_path: Path) -> None:
    jobs_total = JOBS_BY_SCHEME.get(url.split(":", 1)[0], JOBS)
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    env = {"ROTA_STORE_URL": url, "ROTA_TEST_LOG_DIR": str(log_dir)}
    async with App(url) as app:

        @app.task(name="mp.work", retry=5)  # the same task as tests/multiprocess/kill_app.py
        async def work(n: int) -> None: ...

        await app.enqueue_many(work.prepare(n) for n in range(jobs_total))

        worker_args = [
            "worker",
            "tests.multiprocess.kill_app:app",
            "--concurrency",
            "8",
            "--lease",
            # long enough that a survivor's heartbeats keep their leases on a loaded machine
            # (FerretDB's writes then take seconds), short enough to recover the victim's jobs soon
            LEASE,
            "--no-scheduler",
        ]
        victim = rota_process(
            worker_args,
            {**env, "ROTA_INSTANCE_ID": "victim", "ROTA_TEST_BUSY_AFTER": str(max(4, jobs_total // 16))},
        )
        survivors = [
            rota_process(worker_args, {**env, "ROTA_INSTANCE_ID": f"survivor-{i}"}) for i in range(2)
        ]
        try:
            await asyncio.to_thread(wait_for_line, victim, "busy")
            victim.send_signal(signal.SIGKILL)
            victim.communicate(timeout=10)
            assert victim.returncode == -signal.SIGKILL
            # the survivors finish everything, including the victim's jobs once their leases expire
            await app.wait_until_idle(timeout=120, queues=["default"])
        finally:
            for proc in (victim, *survivors):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            errors = [proc.communicate(timeout=60)[1] for proc in survivors]
        assert [p.returncode for p in survivors] == [0, 0], errors

        stats = await app.stats()
        assert stats.counts["default"] == {JobStatus.SUCCEEDED: jobs_total}

        runs = executions(log_dir)
        total = collections.Counter[int]()
        for counter in runs.values():
            total.update(counter)
        assert set(total) == set(range(jobs_total)), "some job never ran"
        ran_twice = {n for n, c in total.items() if c > 1}
        assert ran_twice, "the victim was killed mid-run, so some of its jobs must have run again"
        jobs = {int(job.payload): job for job in await app.list_jobs(limit=jobs_total + 1)}
        assert len(jobs) == jobs_total
        strays = sorted(ran_twice - set(runs["victim"]))[:5]
        assert not strays, "a job ran twice without its worker being killed: " + "; ".join(
            f"{n}: {await app.attempts(jobs[n].id)}" for n in strays
        )
        assert all(c == 2 for n, c in total.items() if n in ran_twice)
        assert all(runs[name][n] <= 1 for name in runs for n in runs[name]), "a worker ran a job twice"

        for n, job in jobs.items():
            if n not in ran_twice and job.attempts == 1:
                continue
            # ran twice, or claimed by the victim and killed before its handler started
            history = [(a.outcome, a.worker) for a in await app.attempts(job.id)]
            assert history[0] == (Outcome.LEASE_LOST, "victim"), history
            assert [o for o, _ in history] == [Outcome.LEASE_LOST, Outcome.SUCCEEDED], history


async def test_sigkill_of_one_of_three_workers_loses_no_job(shared_url: str, tmp_path: Path) -> None:
    await run_kill_test(shared_url, tmp_path)
