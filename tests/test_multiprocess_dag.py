"""1,000 jobs in a random DAG (seeded), enqueued at once with their dependencies, run by
three worker processes on every shared store: every job starts after all its parents ended
(the handlers' own timestamps, tests/multiprocess/dag_app.py) and runs exactly once (its
history: one attempt, succeeded)."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path

import pytest

from rota import App, JobSpec, JobStatus, Outcome
from tests.multiprocess._procs import rota_process, wait_for_line

pytestmark = pytest.mark.slow

NODES = 1000
# FerretDB (the MongoDB-compatible server the tests run) is far slower: a smaller DAG
COUNTS = {"mongodb": 60}


def random_dag(n: int, seed: int) -> list[list[int]]:
    """Per node, its parents: up to three earlier nodes (so no cycle), some none."""
    rng = random.Random(seed)
    return [sorted(rng.sample(range(i), k=min(i, rng.choice((0, 1, 1, 2, 3))))) for i in range(n)]


def read_runs(log_dir: Path) -> dict[int, list[tuple[float, float]]]:
    runs: dict[int, list[tuple[float, float]]] = {}
    for log in log_dir.glob("*.log"):
        started: dict[int, float] = {}
        for line in log.read_text().splitlines():
            event, n, at = line.split()
            if event == "start":
                started[int(n)] = float(at)
            else:
                runs.setdefault(int(n), []).append((started.pop(int(n)), float(at)))
    return runs


async def test_a_random_dag_runs_in_order_exactly_once_across_three_workers(
    shared_url: str, tmp_path: Path
) -> None:
    total = COUNTS.get(shared_url.split(":", 1)[0], NODES)
    parents = random_dag(total, seed=15)
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    env = {"ROTA_STORE_URL": shared_url, "ROTA_TEST_LOG_DIR": str(log_dir)}
    async with App(shared_url) as app:

        @app.task(name="mp.node")  # the same task as tests/multiprocess/dag_app.py
        async def node(n: int) -> int:
            return n

        args = ["worker", "tests.multiprocess.dag_app:app", "--concurrency", "8", "--no-scheduler"]
        workers = [rota_process(args, {**env, "ROTA_INSTANCE_ID": f"w{i}"}) for i in range(3)]
        try:
            for proc in workers:
                await asyncio.to_thread(wait_for_line, proc, "loaded")
            # every worker serving before the jobs exist: the DAG is over in a fraction of a
            # second, so a worker that came up later would find nothing left to share
            deadline = time.monotonic() + 60
            while len(await app.workers()) < 3:
                assert time.monotonic() < deadline, "the workers did not register"
                await asyncio.sleep(0.05)  # a poll of real processes' progress

            specs: list[JobSpec] = []
            for n in range(total):
                specs.append(node.prepare(n, after=[specs[p] for p in parents[n]] or None))
            jobs = await app.enqueue_many(specs)
            waiting = sum(1 for j in jobs if j.status is JobStatus.WAITING)
            assert waiting == sum(1 for p in parents if p)
            deadline = time.monotonic() + 90
            while (counts := (await app.stats()).counts.get("default", {})).get(
                JobStatus.SUCCEEDED, 0
            ) < total:
                assert time.monotonic() < deadline, f"the workers did not finish in time: {counts}"
                await asyncio.sleep(0.1)  # a poll of real processes' progress
        finally:
            for proc in workers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            errors = [proc.communicate(timeout=60)[1] for proc in workers]
        assert [p.returncode for p in workers] == [0, 0, 0], errors

        assert (await app.stats()).counts["default"] == {JobStatus.SUCCEEDED: total}
        runs = read_runs(log_dir)
        assert sorted(runs) == list(range(total))
        assert all(len(r) == 1 for r in runs.values()), "a job ran twice"
        for n, ps in enumerate(parents):
            start = runs[n][0][0]
            for p in ps:
                assert runs[p][0][1] <= start, f"job {n} started before its parent {p} ended"
        by_worker = {log.stem for log in log_dir.glob("*.log") if log.stat().st_size}
        assert len(by_worker) >= 2, "the work was not shared between processes"
        for job in jobs:
            history = await app.attempts(job.id)
            assert [a.outcome for a in history] == [Outcome.SUCCEEDED], (job.id, history)
