"""Graceful shutdown, with real ``rota worker`` processes on every shared store: a job that
outlasts the grace is released (pending, no attempt spent, its history says ``released``)
and the process exits within grace + 2 s; a second signal forces the exit sooner, still
releasing. The memory store's case runs in-process: its store dies with its process, so only
the worker's side of the promise can be observed.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import pytest

from rota import App, JobStatus, Outcome
from tests.multiprocess._procs import rota_process, wait_for_line

pytestmark = pytest.mark.slow

GRACE = 1.0
BOUND = 2.0  # the promise: the process exits within grace + this
APP = "tests.multiprocess.shutdown_app:app"


async def _run_until_started(url: str, task: str, *args: str) -> tuple[App, str, subprocess.Popen[str]]:
    app = App(url)
    for name in ("sd.sleep", "sd.block", "sd.stubborn"):  # the worker app's tasks, by name

        @app.task(name=name)
        async def _() -> None: ...

    job = (await app.enqueue_many([app.tasks[task].prepare()]))[0]
    proc = rota_process(
        ["worker", APP, "--grace", str(GRACE), "--no-scheduler", "--lease", "30", *args],
        {"ROTA_STORE_URL": url, "ROTA_INSTANCE_ID": "sd-worker"},
    )
    await asyncio.to_thread(wait_for_line, proc, "started")
    return app, job.id, proc


async def _exit_time(proc: subprocess.Popen[str], *signals: signal.Signals) -> tuple[float, str]:
    """Send ``signals`` (0.2 s apart); seconds from the first until the process exited."""
    start = time.monotonic()
    for n, sig in enumerate(signals):
        if n:
            await asyncio.sleep(0.2)  # the second signal comes while the first one's grace runs
        proc.send_signal(sig)
    try:
        _, err = await asyncio.to_thread(proc.communicate, timeout=GRACE + BOUND + 20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the worker did not exit within {GRACE + BOUND + 20}s: {err}") from None
    assert proc.returncode == 0, err
    return time.monotonic() - start, err


async def _assert_released(app: App, job_id: str) -> None:
    job = await app.get_job(job_id)
    assert (job.status, job.attempts, job.lease_owner) == (JobStatus.PENDING, 0, None), job
    history = await app.attempts(job_id)
    assert [(a.outcome, a.worker) for a in history] == [(Outcome.RELEASED, "sd-worker")]


async def test_a_job_outlasting_the_grace_is_released_and_the_process_exits(shared_url: str) -> None:
    app, job_id, proc = await _run_until_started(shared_url, "sd.sleep")
    try:
        elapsed, err = await _exit_time(proc, signal.SIGTERM)
        assert elapsed <= GRACE + BOUND, (elapsed, err)
        await _assert_released(app, job_id)
    finally:
        if proc.poll() is None:
            proc.kill()
        await app.close()


@pytest.mark.parametrize("task", ["sd.block", "sd.stubborn"])
async def test_handlers_that_cannot_be_cancelled_do_not_keep_the_process_alive(
    tmp_path: Path, task: str
) -> None:
    """A plain ``def`` handler stuck in its thread, an async one that swallows cancellation."""
    url = f"sqlite:///{tmp_path}/stuck.db"
    app, job_id, proc = await _run_until_started(url, task)
    try:
        elapsed, err = await _exit_time(proc, signal.SIGTERM)
        assert elapsed <= GRACE + BOUND, (elapsed, err)
        await _assert_released(app, job_id)
    finally:
        if proc.poll() is None:
            proc.kill()
        await app.close()


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_second_signal_forces_the_exit_and_still_releases(
    shared_url: str, second: signal.Signals
) -> None:
    app, job_id, proc = await _run_until_started(shared_url, "sd.stubborn", "--grace", "60")
    try:
        elapsed, err = await _exit_time(proc, signal.SIGTERM, second)
        assert elapsed <= 0.2 + BOUND, (elapsed, err)  # the grace of 60 s is cut short
        await _assert_released(app, job_id)
    finally:
        if proc.poll() is None:
            proc.kill()
        await app.close()


async def test_memory_store_shutdown_releases_within_the_bound() -> None:
    """In-process: the memory store lives and dies with its process, so a separate worker
    process could not be observed. The worker's own bound is what is checked."""
    async with App("memory://", instance_id="sd-worker") as app:
        started = asyncio.Event()

        @app.task(name="sd.sleep")
        async def sleep() -> None:
            started.set()
            await asyncio.sleep(60)

        job = await sleep.enqueue()
        worker = app.worker(grace=GRACE)
        await worker.start()
        await asyncio.wait_for(started.wait(), 10)
        begin = time.monotonic()
        await asyncio.wait_for(worker.shutdown(), GRACE + BOUND + 5)
        assert time.monotonic() - begin <= GRACE + BOUND
        await _assert_released(app, job.id)
