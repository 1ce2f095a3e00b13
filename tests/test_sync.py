"""The blocking facade: synchronous code enqueues and inspects jobs through the async core."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

import rota
from rota import App, JobStatus
from rota.sync import SyncApp


@dataclass
class Email:
    to: str


def test_sync_code_enqueues_and_inspects_jobs(tmp_path: Path) -> None:
    app = App(f"sqlite:///{tmp_path / 'sync.db'}")

    @app.task
    async def send(email: Email) -> None: ...

    with SyncApp(app) as jobs:
        job = jobs.enqueue(send, Email("a@example.com"), delay=60)
        again = jobs.enqueue(send, Email("b@example.com"), key="k")
        same = jobs.enqueue(send, Email("c@example.com"), key="k")
        assert same.id == again.id
        assert jobs.get_job(job.id).status is JobStatus.PENDING
        assert {j.id for j in jobs.list_jobs()} == {job.id, again.id}
        assert jobs.cancel(job.id).status is JobStatus.CANCELLED
        assert jobs.requeue(job.id).status is JobStatus.PENDING
        assert jobs.stats().total(JobStatus.PENDING) == 2
        with pytest.raises(rota.PayloadError):
            jobs.enqueue(send, {"to": 1})
        with pytest.raises(rota.JobNotFound):
            jobs.get_job("missing")
        # the portal runs the core on its own thread, never the caller's
        assert jobs.call(_thread_name) != threading.current_thread().name


async def _thread_name() -> str:
    return threading.current_thread().name
