"""``ctx.transaction()`` across a SIGKILL, with real ``rota worker`` processes on a real
PostgreSQL: a worker killed after its handler wrote (uncommitted) leaves neither the row nor
the success; another worker runs the job again after the lease expires, and the effect is
there exactly once, with the job succeeded."""

from __future__ import annotations

import asyncio
import signal
import uuid

import asyncpg
import pytest

from rota import App, JobStatus, Outcome
from tests.multiprocess._procs import rota_process, wait_for_line
from tests.servers.postgres import PgServer, _admin, with_query

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ARGS = ["worker", "tests.multiprocess.tx_app:app", "--lease", "2", "--no-scheduler"]


async def test_sigkill_before_the_commit_leaves_nothing_and_the_rerun_commits_once(
    postgres_server: PgServer,
) -> None:
    schema = f"mptx_{uuid.uuid4().hex[:12]}"
    table = f"effects_{schema}"
    url = with_query(postgres_server.url, schema=schema)
    env = {"ROTA_STORE_URL": url, "ROTA_TEST_TABLE": table}
    admin = await asyncpg.connect(postgres_server.url)
    await admin.execute(f"CREATE TABLE {table} (job text, worker text, attempt int)")
    try:
        async with App(url) as app:

            @app.task(name="mp.effect", retry=3)  # tests/multiprocess/tx_app.py's task
            async def effect(order: str) -> None: ...

            job = await effect.enqueue("o-1")
            victim = rota_process(ARGS, {**env, "ROTA_INSTANCE_ID": "victim", "ROTA_TEST_BLOCK": "1"})
            try:
                await asyncio.to_thread(wait_for_line, victim, "written")
                # written, not committed: no one else sees it, and the job is still running
                assert await admin.fetchval(f"SELECT count(*) FROM {table}") == 0
                assert (await app.get_job(job.id)).status is JobStatus.RUNNING
                victim.send_signal(signal.SIGKILL)
                victim.communicate(timeout=10)
                assert victim.returncode == -signal.SIGKILL
            finally:
                if victim.poll() is None:
                    victim.kill()
                    victim.communicate(timeout=10)
            # the server rolled the dead session back: neither the row nor the success
            assert await admin.fetchval(f"SELECT count(*) FROM {table}") == 0
            assert (await app.get_job(job.id)).status is JobStatus.RUNNING

            survivor = rota_process(ARGS, {**env, "ROTA_INSTANCE_ID": "survivor"})
            try:
                await app.wait_until_idle(timeout=60, queues=["default"])
            finally:
                survivor.send_signal(signal.SIGTERM)
                _, err = survivor.communicate(timeout=60)
            assert survivor.returncode == 0, err

            rows = await admin.fetch(f"SELECT job, worker, attempt FROM {table}")
            assert [tuple(r) for r in rows] == [("o-1", "survivor", 2)]
            done = await app.get_job(job.id)
            assert done.status is JobStatus.SUCCEEDED and done.attempts == 2
            history = [(a.outcome, a.worker) for a in await app.attempts(job.id)]
            assert history == [(Outcome.LEASE_LOST, "victim"), (Outcome.SUCCEEDED, "survivor")]
    finally:
        await admin.execute(f"DROP TABLE IF EXISTS {table}")
        await admin.close()
        await _admin(postgres_server.url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
