"""User code for the typing test (tests/test_typing.py runs ``mypy --strict`` over it).

Everything here must type-check except the lines marked ``# type: ignore[...]``: those must be
errors, because ``--strict`` warns about an ignore that is not needed. A wrong payload that
mypy accepted would fail the check as an unused ignore.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import assert_type

import rota
from rota.sync import SyncApp

app = rota.App("memory://")


@dataclass
class Email:
    to: str
    subject: str


@app.task
async def send_email(email: Email) -> None: ...


@app.task(queue="reports", retry=3, timeout=timedelta(minutes=5))
def build_report(day: int) -> str:
    return f"report {day}"


@app.task
async def ping() -> None: ...


@app.cron("0 2 * * *", tz="Europe/Berlin")
async def nightly() -> None: ...


@app.task
async def with_context(email: Email, ctx: rota.JobContext) -> None:
    await ctx.progress(0.5, "half way")


@app.task(retry=3)
def only_context(ctx: rota.JobContext) -> int:
    return ctx.attempt


async def correct_usage() -> None:
    assert_type(send_email, rota.Task[Email])
    assert_type(build_report, rota.Task[int])
    assert_type(ping, rota.Task[None])
    assert_type(nightly, rota.Task[None])
    assert_type(with_context, rota.Task[Email])
    assert_type(only_context, rota.Task[None])
    await with_context.enqueue(Email("a@example.com", "hi"))
    await only_context.enqueue()
    current = rota.current_job()
    if current is not None:
        assert_type(current.deadline, datetime | None)
    job = await send_email.enqueue(Email("a@example.com", "hi"), delay=60, key="welcome-a")
    assert_type(job, rota.Job)
    await build_report.enqueue(3, priority=5, queue="urgent")
    await ping.enqueue()
    await app.enqueue(send_email, Email("b@example.com", "hi"))
    await app.enqueue("some.task.by.name", {"any": "payload"})
    await app.enqueue_many([send_email.prepare(Email("c@example.com", "hi")), build_report.prepare(4)])
    SyncApp(app).enqueue(build_report, 5)
    assert_type(app.worker(concurrency=4), rota.Worker)
    assert_type(app.scheduler(), rota.Scheduler)
    assert_type(app.leader_election(ttl=10), rota.LeaderElection)
    assert_type(app.lock("reports", ttl=30, timeout=5), rota.Lock)
    assert_type(await app.health(), rota.Health)
    assert_type(await app.stats(), rota.QueueStats)
    assert_type(app.config, rota.AppConfig)
    async with app.lock("reports:daily", ttl=timedelta(seconds=30)) as held:
        assert_type(held.fence, rota.Fence | None)


async def wrong_payloads() -> None:
    await send_email.enqueue(1)  # type: ignore[arg-type]
    await send_email.enqueue("a@example.com")  # type: ignore[arg-type]
    await send_email.enqueue()  # type: ignore[call-arg]
    send_email.prepare({"to": "a@example.com"})  # type: ignore[arg-type]
    await build_report.enqueue("3")  # type: ignore[arg-type]
    await ping.enqueue(5)  # type: ignore[call-overload]
    await app.enqueue(send_email, 1)  # type: ignore[misc]
    SyncApp(app).enqueue(build_report, "5")  # type: ignore[misc]
    await with_context.enqueue(1)  # type: ignore[arg-type]
    await only_context.enqueue(5)  # type: ignore[call-overload]


async def wrong_options() -> None:
    await send_email.enqueue(Email("a@example.com", "hi"), dely=60)  # type: ignore[call-arg]
    await build_report.enqueue(3, delay="soon")  # type: ignore[arg-type]
    app.lock("reports", tll=30)  # type: ignore[call-arg]
    app.leader_election(ttl="30s")  # type: ignore[arg-type]
