"""The one Redis call every benchmarked handler makes, rota's and every peer's alike.

A handler calls ``record()`` (sync handlers) or ``await arecord()`` (async handlers) once per
job: one ``RPUSH`` to the harness's own Redis server (not the store under test), of the
handler's ``time.time()`` at its start, or, given a reference time ``t`` (the job's enqueue
instant or due instant), of ``time.time() - t``. The harness reads the list to count the runs
and to time them. Imported by worker processes of both virtualenvs: stdlib and redis-py only.

The client is shared by the whole process, as a user's module-level client would be, over a
blocking pool: redis-py's default pool raises "Too many connections" once more than 100 calls
wait at once (rota at ``--concurrency 1000``), where a blocking pool makes them queue.
"""

from __future__ import annotations

import os
import time
from typing import Any

URL = os.environ.get("BENCH_RECORD_URL", "")
KEY = os.environ.get("BENCH_RECORD_KEY", "bench:record")
POOL_SIZE = 100

_sync: Any = None
_async: Any = None


def _value(t: float | None) -> str:
    now = time.time()
    return repr(now if t is None else now - t)


def record(t: float | None = None) -> None:
    """The sync handlers' call (Huey, Dramatiq, Celery, RQ: thread-safe pool)."""
    global _sync
    value = _value(t)
    if _sync is None:
        import redis

        _sync = redis.Redis(
            connection_pool=redis.BlockingConnectionPool.from_url(URL, max_connections=POOL_SIZE)
        )
    _sync.rpush(KEY, value)


async def arecord(t: float | None = None) -> None:
    """The async handlers' call (rota, SAQ, arq, procrastinate, pgqueuer)."""
    global _async
    value = _value(t)
    if _async is None:
        import redis.asyncio as aioredis

        pool = aioredis.BlockingConnectionPool.from_url(URL, max_connections=POOL_SIZE)
        _async = aioredis.Redis(connection_pool=pool)
    await _async.rpush(KEY, value)


async def aclear() -> None:
    """Delete this process's list (a script that made the calls only to time them)."""
    if _async is not None:
        await _async.delete(KEY)
