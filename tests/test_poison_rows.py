"""A stored job that no run can use (written by an older version, by hand, or corrupted) fails
that one job with a clear error, on every shared store; the worker then runs the next 100
jobs, and listing (API and ``rota jobs list``) still works. The memory store's case (its
rows are the Job objects it is given) is in test_worker_hardening.py.

Each store gets the values its own schema lets through: SQLite's dynamic typing takes text
in a number column, PostgreSQL's float8 takes NaN and its timestamps take infinity, Redis
hashes and MongoDB documents take anything. A third job gets a due time that is not one:
where the store's claim can never select it (its index holds no such value) it stays pending
and lists with its defect; where it can (Redis claims by a separate score) it fails like the
others. Either way nothing else is disturbed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from urllib.parse import parse_qs, urlsplit

import pytest

from rota import App, JobStatus
from rota.cli import main as cli_main

pytestmark = pytest.mark.slow

WAIT = 60  # real seconds for the worker to get through the jobs (FerretDB is slow)
GOOD = 100


async def corrupt(app: App, url: str, ids: list[str]) -> list[str]:
    """Write bad values straight into the stored rows of ``ids``; the field each one names
    (the third one's is always due_at)."""
    scheme = url.split(":", 1)[0]
    store: object = app.store
    if scheme == "sqlite":
        with closing(sqlite3.connect(urlsplit(url).path)) as conn, conn:
            conn.execute("UPDATE jobs SET priority = 'x' WHERE id = ?", (ids[0],))
            conn.execute("UPDATE jobs SET timeout = 'soon' WHERE id = ?", (ids[1],))
            conn.execute("UPDATE jobs SET due_at = 'yesterday' WHERE id = ?", (ids[2],))
        return ["priority", "timeout"]
    if scheme == "postgresql":
        import asyncpg

        schema = parse_qs(urlsplit(url).query)["schema"][0]
        conn = await asyncpg.connect(url.split("?", 1)[0])
        try:
            await conn.execute(f"UPDATE \"{schema}\".jobs SET timeout = 'NaN' WHERE id = $1", ids[0])
            await conn.execute(f"UPDATE \"{schema}\".jobs SET due_at = '-infinity' WHERE id = $1", ids[1])
            await conn.execute(f"UPDATE \"{schema}\".jobs SET due_at = 'infinity' WHERE id = $1", ids[2])
        finally:
            await conn.close()
        return ["timeout", "due_at"]
    if scheme == "redis":
        db = store._connection  # type: ignore[attr-defined]
        client, ns = db.client, db.namespace
        await client.hset(f"{ns}:j:{ids[0]}", mapping={"pr": "x", "a": "many"})
        await client.hset(f"{ns}:j:{ids[1]}", mapping={"to": "nan", "tk": "x"})
        await client.hset(f"{ns}:j:{ids[2]}", mapping={"d": "yesterday"})
        return ["priority", "timeout"]
    assert scheme == "mongodb"
    jobs = store._jobs.jobs  # type: ignore[attr-defined]
    await jobs.update_one({"_id": ids[0]}, {"$set": {"priority": "x", "token": "seven"}})
    # (FerretDB refuses NaN and infinite numbers outright)
    await jobs.update_one({"_id": ids[1]}, {"$set": {"timeout": "soon", "attempts": None}})
    await jobs.update_one({"_id": ids[2]}, {"$set": {"due_at": "yesterday"}})
    return ["priority", "timeout"]


async def test_a_poison_row_fails_its_job_and_the_worker_runs_the_next_100(
    shared_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[int] = []
    async with App(shared_url, instance_id="poison-test") as app:

        @app.task(name="work")
        async def work(n: int) -> None:
            ran.append(n)

        poison = await app.enqueue_many([work.prepare(-n) for n in (1, 2, 3)])
        fields = await corrupt(app, shared_url, [job.id for job in poison])
        await app.enqueue_many(work.prepare(n) for n in range(GOOD))
        settled = asyncio.Event()
        app.on(None, lambda _event: settled.set())  # every outcome the worker settles
        async with app.worker(concurrency=10) as worker:
            await app.wait_until_idle(timeout=WAIT)
            # the store answers "idle" as soon as the last outcomes are written; the worker
            # frees their slots (then emits their events) just after: no slot may leak
            async with asyncio.timeout(WAIT):
                while worker.active:
                    settled.clear()
                    await settled.wait()
            assert worker.active == 0
        undue = await app.get_job(poison[2].id)
        if undue.status is JobStatus.PENDING:  # no claim can select it: it waits, listed
            assert undue.defect is not None and undue.defect.startswith("due_at"), undue
            assert await app.attempts(undue.id) == []
        else:
            fields.append("due_at")
        for job, field in zip(poison, fields, strict=False):
            stored = await app.get_job(job.id)
            assert stored.status is JobStatus.FAILED, stored
            assert stored.last_error is not None and stored.last_error.startswith("InvalidJob:")
            assert field in stored.last_error
            [attempt] = await app.attempts(job.id)
            assert attempt.error_type == "InvalidJob"
        assert sorted(ran) == list(range(GOOD))  # the poison jobs never ran
        listed = await app.list_jobs(limit=GOOD + 10)
        assert len(listed) == GOOD + 3
        assert {j.id for j in listed if j.defect} <= {j.id for j in poison}
    capsys.readouterr()
    # (in a thread: the CLI runs its own event loop)
    assert await asyncio.to_thread(cli_main, ["jobs", "list", "--store", shared_url, "--limit", "200"]) == 0
    out = capsys.readouterr().out
    assert all(job.id in out for job in poison)
