"""Handlers that share one client at high concurrency (docs/worker.md, "Handlers that share
a client"): redis-py's default pool raises "Too many connections" once more calls wait than
it has connections, and those jobs fail, visibly (logged once per distinct error, counted);
a ``BlockingConnectionPool`` makes the same handlers wait for a connection and succeed.
Issue 16 saw the first at ``--concurrency 1000`` with nothing logged."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from rota import App
from rota.stores.memory import MemoryStore

pytestmark = pytest.mark.redis

WAIT = 30  # real seconds a test may wait for the worker to go idle (never slept)
JOBS = 300
CONNECTIONS = 20


@pytest.fixture
async def app() -> AsyncIterator[App]:
    app = App(store=MemoryStore(), instance_id="w1")
    yield app
    await app.close()


async def run_with(app: App, pool: redis.ConnectionPool) -> tuple[int, int]:
    """Run JOBS jobs whose handler holds a shared client's connection for a moment (a
    blocking pop with a short timeout); returns (succeeded, failed)."""
    client = redis.Redis(connection_pool=pool)

    @app.task(name="pop", retry=1)
    async def pop(n: int) -> None:
        await client.blpop([f"nothing:{n}"], timeout=0.05)

    try:
        async with app.worker(concurrency=JOBS) as worker:
            await app.enqueue_many([pop.prepare(n) for n in range(JOBS)])
            await app.wait_until_idle(timeout=WAIT)
            return worker.counters.succeeded, worker.counters.failed
    finally:
        await client.aclose()
        await pool.aclose()  # (a pool passed in is not the client's to close)


async def test_a_raising_pool_fails_jobs_visibly(
    app: App, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="rota.jobs")
    pool = redis.ConnectionPool.from_url(redis_url, max_connections=CONNECTIONS)
    succeeded, failed = await run_with(app, pool)
    assert failed > 0 and succeeded + failed == JOBS
    lines = [r for r in caplog.records if r.name == "rota.jobs"]
    assert len(lines) == 1  # one line for the one distinct error, not one per job
    assert "Too many connections" in lines[0].getMessage()


async def test_a_blocking_pool_lets_every_job_wait_for_a_connection(app: App, redis_url: str) -> None:
    pool = redis.BlockingConnectionPool.from_url(redis_url, max_connections=CONNECTIONS, timeout=WAIT)
    assert await run_with(app, pool) == (JOBS, 0)
