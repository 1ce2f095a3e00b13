"""A blocking facade for synchronous code (Django views, Flask handlers, scripts).

It is a portal, not a copy: every call runs the async core's own coroutine on a private event
loop in a background thread and waits for its result. Use one ``SyncApp`` per ``App`` and do not
mix it with async use of the same ``App``.

    from rota.sync import SyncApp
    jobs = SyncApp(app)
    job = jobs.enqueue(send_email, Email("a@example.com", "hi"), delay=60)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar, Unpack, overload

from rota._app import App
from rota._loop import new_event_loop
from rota._models import AbortResult, Attempt, Job, QueueStats, WorkerInfo
from rota._task import EnqueueOptions, JobSpec, Task

A = ParamSpec("A")
P = TypeVar("P")  # a task's payload type
T = TypeVar("T")


class Portal:
    """An event loop on a daemon thread that runs coroutines for blocking callers."""

    def __init__(self) -> None:
        self._loop = new_event_loop()  # uvloop where installed (rota._loop)
        self._thread = threading.Thread(target=self._loop.run_forever, name="rota-portal", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[A, Awaitable[T]], *args: A.args, **kwargs: A.kwargs) -> T:
        async def run() -> T:
            return await fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result()

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()


class SyncApp:
    """Blocking versions of the App's client calls, each delegating to the async method."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._portal = Portal()

    @overload
    def enqueue(self, task: Task[P], payload: P, **options: Unpack[EnqueueOptions]) -> Job: ...
    @overload
    def enqueue(self, task: Task[None], payload: None = None, **options: Unpack[EnqueueOptions]) -> Job: ...
    @overload
    def enqueue(self, task: str, payload: object = None, **options: Unpack[EnqueueOptions]) -> Job: ...

    def enqueue(
        self, task: Task[Any] | str, payload: object = None, **options: Unpack[EnqueueOptions]
    ) -> Job:
        """``App.enqueue``, blocking."""

        async def enqueue() -> Job:
            return await self.app.enqueue(task, payload, **options)

        return self._portal.call(enqueue)

    def enqueue_many(self, specs: Iterable[JobSpec]) -> list[Job]:
        return self._portal.call(self.app.enqueue_many, list(specs))

    def get_job(self, job_id: str) -> Job:
        return self._portal.call(self.app.get_job, job_id)

    def list_jobs(self, **filters: Any) -> list[Job]:
        return self._portal.call(self.app.list_jobs, **filters)

    def attempts(self, job_id: str) -> list[Attempt]:
        return self._portal.call(self.app.attempts, job_id)

    def cancel(self, job_id: str) -> Job:
        return self._portal.call(self.app.cancel, job_id)

    def abort(self, job_id: str, *, reason: str = "") -> AbortResult:
        """``App.abort``, blocking."""
        return self._portal.call(self.app.abort, job_id, reason=reason)

    def requeue(self, job_id: str) -> Job:
        return self._portal.call(self.app.requeue, job_id)

    def result(self, job_id: str, *, timeout: float | timedelta | None = None) -> Any:
        """``App.result``, blocking."""
        return self._portal.call(self.app.result, job_id, timeout=timeout)

    def stats(self) -> QueueStats:
        return self._portal.call(self.app.stats)

    def workers(self) -> list[WorkerInfo]:
        return self._portal.call(self.app.workers)

    def wait_until_idle(self, timeout: float | None = None) -> None:
        self._portal.call(self.app.wait_until_idle, timeout)

    def call(self, fn: Callable[A, Awaitable[T]], *args: A.args, **kwargs: A.kwargs) -> T:
        """Run any coroutine function of the async API, e.g. ``call(app.schedules.pause, "x")``."""
        return self._portal.call(fn, *args, **kwargs)

    def close(self) -> None:
        try:
            self._portal.call(self.app.close)
        finally:
            self._portal.close()

    def __enter__(self) -> SyncApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
