"""A handler's own transaction (``ctx.transaction()``): its writes and its job's success
commit together, or neither does.

The handler gets a connection of a pool of its own (made on first use, closed with the
store) with the server's default ``search_path``, not the store's schema: its statements
read as they would on any connection of the application's. rota's statements on it run
schema-qualified (_external.qualified). The success is the store's own ``finish_succeeded``
statement, so it holds exactly when ``Store.finish`` would: the run's token is the job's and
the job is running (and, for a task with a lock, the lock's fence still holds).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import Any

import asyncpg

from rota._models import Finish, Outcome
from rota.stores._transactional import CommitUnknown
from rota.stores.postgres._config import PostgresConfig
from rota.stores.postgres._connection import PostgresConnection, is_transient, quiet_pool_logs
from rota.stores.postgres._external import quote, statement

#: the named lease a fenced success needs, locked (as finish does) until the commit
_FENCE = (
    "SELECT 1 FROM {schema}.leases"
    " WHERE name = $1 AND owner = $2 AND token = $3 AND expires_at > $4 FOR SHARE"
)


class HandlerPool:
    """The connections handlers' transactions run on: made on first use, closed with the store."""

    def __init__(self, db: PostgresConnection) -> None:
        self._db = db
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    @property
    def config(self) -> PostgresConfig:
        return self._db.config

    async def begin(self) -> Joined:
        """A pooled connection in a new transaction (``StoreUnavailable`` when the server is
        away)."""
        try:
            pool = self._pool or await self._start()
            conn = await pool.acquire()
        except Exception as exc:
            if is_transient(exc):
                raise self._db.unavailable(exc) from exc
            raise
        try:
            tx = conn.transaction()
            await tx.start()
        except BaseException as exc:
            await pool.release(conn)
            if isinstance(exc, Exception) and is_transient(exc):
                raise self._db.unavailable(exc) from exc
            raise
        return Joined(pool, conn, tx, self._db)

    async def _start(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                quiet_pool_logs()
                self._pool = await asyncpg.create_pool(
                    self.config.dsn, min_size=0, max_size=self.config.pool_max,
                    timeout=self.config.connect_timeout, server_settings={"application_name": "rota"},
                )  # fmt: skip
            return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                async with asyncio.timeout(5.0):
                    await pool.close()
            except TimeoutError:
                pool.terminate()


class Joined:
    """One handler's transaction: ``connection`` for the handler, then exactly one of
    ``commit_success`` or ``rollback``."""

    def __init__(self, pool: asyncpg.Pool, conn: Any, tx: Any, db: PostgresConnection) -> None:
        self._pool = pool
        self.connection = conn
        self._tx = tx
        self._db = db
        self._done = False

    async def commit_success(self, finish: Finish, *, worker: str, now: datetime) -> bool:
        """Record ``finish`` (a success) in this transaction and commit both: True. False:
        the lease was lost (token, status or fence no longer hold); rolled back, nothing of
        the handler's is kept. A failure before the commit rolls back and raises (nothing
        kept); one of the commit itself raises ``CommitUnknown``."""
        if finish.outcome is not Outcome.SUCCEEDED or finish.retry_at is not None:
            raise ValueError("commit_success takes a success")
        schema = self._db.config.schema
        conn = self.connection
        try:
            if finish.fence is not None:
                fence = finish.fence
                held = await conn.fetchval(
                    _FENCE.format(schema=quote(schema)), fence.name, fence.owner, fence.token, now
                )
                if held is None:
                    await self.rollback()
                    return False
            if finish.progress is not None:
                await conn.fetch(
                    statement("jobs", "set_progress", schema), finish.job_id, finish.token,
                    finish.progress.fraction, finish.progress.message, now,
                )  # fmt: skip
            rows = await conn.fetch(
                statement("jobs", "finish_succeeded", schema), [finish.job_id], [finish.token],
                [finish.result], worker, now, self._db.jobs_channel, self._db.ended_channel,
            )  # fmt: skip
        except BaseException:
            await self.rollback()
            raise
        if not rows:
            await self.rollback()
            return False
        try:
            await self._tx.commit()
        except BaseException as exc:
            await self._release(discard=True)
            raise CommitUnknown(f"the commit of job {finish.job_id}'s transaction failed: {exc}") from exc
        await self._release()
        return True

    async def rollback(self) -> None:
        """Undo the transaction and give the connection back (idempotent; never raises for
        a connection that is already broken: it is discarded)."""
        if self._done:
            return
        try:
            await self._tx.rollback()
        except Exception:
            # the connection broke: the server rolls back what a lost session held
            await self._release(discard=True)
            return
        except BaseException:
            await self._release(discard=True)
            raise
        await self._release()

    async def _release(self, *, discard: bool = False) -> None:
        if self._done:
            return
        self._done = True
        if discard:
            self.connection.terminate()
        with contextlib.suppress(Exception):
            await self._pool.release(self.connection)
