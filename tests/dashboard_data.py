"""What the dashboard tests share: a store with known jobs, schedules and leases, and the
dashboard served over real HTTP by uvicorn on a free loopback port (in the test's event loop,
or in a thread of its own for the browser tests, whose Playwright API is blocking)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import uvicorn

from rota import App, Cron, Every
from rota._models import ErrorInfo, Finish, Job, Outcome, Progress, WorkerInfo
from rota._task import job_from
from rota.stores.base import Store
from rota.testing import FakeClock
from rota.web import Auth, dashboard_app

T = TypeVar("T")
XSS_HTML = "<img src=x onerror=alert('xss')>"
XSS_SCRIPT = "</script><script>alert('xss2')</script>"
WORKER = "host-a:4242:abc123"
IDLE_WORKER = "host-c:99:idle00"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
LEASE = timedelta(seconds=30)


@dataclass
class Seeded:
    """The ids of what ``seed`` made, by role."""

    jobs: dict[str, Job] = field(default_factory=dict)


def make_app(store: Store, clock: FakeClock) -> App:
    app = App(store=store, clock=clock, instance_id="dashboard-test")

    @app.task(name="send_email", queue="mail", retry=3)
    async def send_email(payload: dict[str, Any]) -> None: ...

    @app.task(name="build_report", queue="reports")
    async def build_report(payload: dict[str, Any]) -> None: ...

    return app


async def seed(app: App) -> Seeded:
    """Jobs in every state (one carrying markup in its payload and error), three schedules
    (a Berlin cron, an interval, a paused one), the leader's lease and a lock."""
    store, clock = app.store, app.clock
    out = Seeded()
    mail, report = app.get_task("send_email"), app.get_task("build_report")
    now = clock.now()
    made = await app.enqueue_many([
        mail.prepare({"to": "ada@example.com"}),  # claimed below: running
        mail.prepare({"to": "bob@example.com"}),  # succeeded
        mail.prepare({"to": "cy@example.com"}),  # failed, twice
        report.prepare({"day": "2030-01-01"}),  # cancelled
        mail.prepare({"html": XSS_HTML, "script": XSS_SCRIPT}, key="xss"),  # failed, markup in its error
        mail.prepare({"to": "dee@example.com"}, key="order-7"),  # pending, due now
    ])  # fmt: skip
    # the delayed one as a tracing app enqueues it: its span's context in its headers
    delayed = job_from(report.prepare({"day": "later"}, delay=3600), now, app.config.max_payload_bytes)
    [added] = await store.add([delayed.replace(headers={"traceparent": TRACEPARENT})], now=now)
    made.append(added.job)
    names = ["running", "succeeded", "failed", "cancelled", "xss", "pending", "delayed"]
    out.jobs = dict(zip(names, made, strict=True))
    await store.cancel(out.jobs["cancelled"].id, now=now)
    mail_jobs = await store.claim(queues=["mail"], worker=WORKER, limit=5, lease_for=LEASE, now=now)
    claimed = {j.id: j for j in mail_jobs}
    # the pending one stays pending: give it back
    pending = claimed.pop(out.jobs["pending"].id)
    await store.release([_ref(pending)], now=now)
    error = ErrorInfo("SMTPError", "mailbox full", "Traceback (most recent call last):\n  ...\nSMTPError")
    xss_error = ErrorInfo("ValueError", f"bad html {XSS_HTML}", f"Traceback\n{XSS_SCRIPT}")
    finishes = [
        Finish(out.jobs["succeeded"].id, claimed[out.jobs["succeeded"].id].token, Outcome.SUCCEEDED,
               result=b'{"sent": true}'),
        Finish(out.jobs["failed"].id, claimed[out.jobs["failed"].id].token, Outcome.FAILED, error=error,
               retry_at=now),
        Finish(out.jobs["xss"].id, claimed[out.jobs["xss"].id].token, Outcome.FAILED, error=xss_error),
    ]  # fmt: skip
    assert all(await store.finish(finishes, worker=WORKER, now=now))
    # the failed job's second (and last allowed here) attempt fails too, a second later
    await clock.advance(1)
    now = clock.now()
    retried = await store.claim(queues=["mail"], worker=WORKER, limit=2, lease_for=LEASE, now=now)
    again = {j.id: j for j in retried}
    fin = Finish(out.jobs["failed"].id, again[out.jobs["failed"].id].token, Outcome.FAILED, error=error)
    assert await store.finish([fin], worker=WORKER, now=now)
    if out.jobs["pending"].id in again:  # claimed again with the retry: back to pending
        await store.release([_ref(again[out.jobs["pending"].id])], now=now)
    await app.schedules.add("nightly", task="build_report", trigger=Cron("0 2 * * *", "Europe/Berlin"),
                            payload={"day": "yesterday"})  # fmt: skip
    await app.schedules.add("poll", task="send_email", trigger=Every(minutes=15), payload={"to": "ops"})
    await app.schedules.add("old", task="build_report", trigger=Every(hours=1), payload={"day": "old"})
    await app.schedules.pause("old")
    ref = _ref(claimed[out.jobs["running"].id])
    assert await store.set_progress(ref, Progress(0.25, "page 1 of 4"), now=now)
    # the worker running it, and an idle one, as they register themselves
    for worker_id, queues in ((WORKER, ("mail",)), (IDLE_WORKER, ("reports",))):
        host, pid, _ = worker_id.split(":")
        info = WorkerInfo(worker_id, host, int(pid), queues, 10, 0, "0.0.0", started_at=now)
        await store.register_worker(info, ttl=timedelta(hours=1), now=now)
    await store.acquire_lease("leader:" + app.config.leader.name, owner=WORKER, ttl=LEASE, now=now)
    await store.acquire_lease("lock:reports", owner="host-b:77:def456", ttl=LEASE, now=now)
    return out


def _ref(job: Job) -> Any:
    from rota._models import LeaseRef

    return LeaseRef(job.id, job.token)


def listening_socket() -> socket.socket:
    """A socket listening on a free loopback port: requests queue in its backlog until the
    server accepts them, so nobody waits for the server to start."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def serving(web: Any) -> AsyncIterator[str]:
    """``web`` served by uvicorn in this event loop; yields its base URL."""
    sock = listening_socket()
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class LiveDashboard:
    """A seeded dashboard served from a thread with its own event loop (for the blocking
    Playwright API): ``call`` runs a coroutine on that loop, against its App."""

    def __init__(self, *, auth: Auth | None = None, read_only: bool = False) -> None:
        from rota.stores.memory import MemoryStore

        self.clock = FakeClock()
        self.auth = auth
        self.read_only = read_only
        self._store_factory = MemoryStore
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dashboard", daemon=True)
        self.url = ""
        self.seeded = Seeded()

    def __enter__(self) -> LiveDashboard:
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the dashboard did not start")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            self.app = make_app(self._store_factory(), self.clock)
            self.seeded = await seed(self.app)
            web = dashboard_app(self.app, auth=self.auth, read_only=self.read_only)
            async with serving(web) as url:
                self.url = url
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            raise

    def call(self, fn: Callable[[App], Awaitable[T]]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(_apply(fn, self.app), self._loop).result(30)


async def _apply(fn: Callable[[App], Awaitable[T]], app: App) -> T:
    return await fn(app)
