"""Connection handling shared by the PostgreSQL store's parts: the pool, the listener,
migrations on open, and the mapping of driver failures to ``StoreUnavailable``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from rota._errors import RotaError, StoreError, StoreUnavailable
from rota.stores.base import Store
from rota.stores.postgres._config import PgConfig
from rota.stores.postgres._failures import connection_lost, is_transient
from rota.stores.postgres._listener import Listener
from rota.stores.postgres._migrate import apply_migrations, check_version
from rota.stores.postgres._sql import query
from rota.stores.url import redact

log = logging.getLogger("rota.stores.postgres")


class PgBase(Store):
    kind = "postgres"
    shared = True

    def __init__(self, config: PgConfig) -> None:
        super().__init__()
        self.config = config
        # channel names are per schema: stores on other schemas of the database stay asleep
        self.jobs_channel = f"rota.{config.schema}.jobs"
        self.schedules_channel = f"rota.{config.schema}.schedules"
        self._pool: asyncpg.Pool | None = None
        self._listener: Listener | None = None

    def describe(self) -> str:
        return self.config.describe()

    @property
    def url(self) -> str:
        """The store's URL with its password hidden (``config.url`` has the real one)."""
        return redact(self.config.url)

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Migrate (unless ``migrate=false``, then check the version), start the pool and the
        LISTEN connection. Idempotent."""
        if self._pool is not None:
            return
        quiet_pool_logs()
        try:
            if self.config.migrate:
                await self.migrate()
            else:
                conn = await self._connect()
                try:
                    await check_version(conn, self.config.schema)
                finally:
                    await conn.close()
            self._pool = await asyncpg.create_pool(
                self.config.dsn,
                min_size=self.config.pool_min,
                max_size=self.config.pool_max,
                timeout=self.config.connect_timeout,
                server_settings=self._settings(),
                reset=_keep_session,
            )
            self._listener = Listener(
                self._connect,
                {self.jobs_channel: self.notify_jobs, self.schedules_channel: self.notify_schedules},
                self._wake_all,
            )
            await self._listener.start()
        except Exception as exc:
            await self.close()
            if is_transient(exc):
                raise self._unavailable(exc) from exc
            self._raise_refused(exc)
            raise

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                async with asyncio.timeout(5.0):
                    await pool.close()
            except TimeoutError:
                pool.terminate()

    async def migrate(self) -> list[int]:
        """Apply the migrations this schema lacks (safe to run from several processes at
        once); returns the versions applied. Works whether or not the store is open."""
        try:
            conn = await self._connect()
        except Exception as exc:
            if is_transient(exc):
                raise self._unavailable(exc) from exc
            self._raise_refused(exc)
            raise
        try:
            return await apply_migrations(conn, self.config.schema)
        except Exception as exc:
            if is_transient(exc):
                raise self._unavailable(exc) from exc
            self._raise_refused(exc)
            raise
        finally:
            await conn.close()

    # -- wake-ups ----------------------------------------------------------------------------

    async def wait_for_jobs(self, timeout: float) -> bool:
        if self._listener is not None:
            self._listener.ensure_running()
        return await super().wait_for_jobs(timeout)

    async def wait_for_schedules(self, timeout: float) -> bool:
        if self._listener is not None:
            self._listener.ensure_running()
        return await super().wait_for_schedules(timeout)

    async def wait_reconnected(self) -> None:
        """Returns when the LISTEN connection is next re-established: it probes the server
        about every half second while it is away (see _listener.py)."""
        listener = self._listener
        if listener is None:
            await super().wait_reconnected()
            return
        listener.ensure_running()
        await listener.next_connection()

    def _wake_all(self) -> None:
        self.notify_jobs()
        self.notify_schedules()

    # -- helpers for the parts ---------------------------------------------------------------

    def _settings(self) -> dict[str, str]:
        return {
            "search_path": f'"{self.config.schema}"',
            "application_name": "rota",
            # JIT compiles plans of statements the planner thinks costly (big tables); for
            # the short statements here that adds tens of milliseconds and saves nothing
            "jit": "off",
        }

    async def _connect(self) -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(
            self.config.dsn, timeout=self.config.connect_timeout, server_settings=self._settings()
        )
        return conn

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"PostgreSQL at {self.describe()} unavailable: {exc}")

    def _raise_refused(self, exc: Exception) -> None:
        """Raise a lasting driver failure to open (wrong password, no such database or role,
        no permission) as one line of ``StoreError``; return for anything else."""
        if isinstance(exc, RotaError) or not isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
            return
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StoreError(f"PostgreSQL at {self.describe()} refused to open the store: {reason}") from exc

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; transient failures surface as ``StoreUnavailable``."""
        pool = self._pool
        if pool is None:
            raise StoreUnavailable(f"the store {self.describe()} is not open (call open())")
        try:
            async with pool.acquire() as conn:
                yield conn
        except Exception as exc:
            if not is_transient(exc):
                raise
            if connection_lost(exc):
                # after a restart every idle connection is dead: replace them all, so one
                # failed call (not one per pooled connection) is what the outage costs
                with contextlib.suppress(Exception):
                    await pool.expire_connections()
            raise self._unavailable(exc) from exc

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._conn() as conn, conn.transaction():
            yield conn

    async def _fetch(self, name: str, *args: Any) -> list[asyncpg.Record]:
        async with self._conn() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(query(name), *args)
            return rows

    async def _fetchrow(self, name: str, *args: Any) -> asyncpg.Record | None:
        async with self._conn() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(query(name), *args)
            return row

    async def _fetchval(self, name: str, *args: Any) -> Any:
        async with self._conn() as conn:
            return await conn.fetchval(query(name), *args)


class _TransientPoolNoise(logging.Filter):
    """asyncpg's pool logs a warning with a traceback each time it fails to reconnect its
    minimum of connections (``CannotConnectNowError`` while the server restarts,
    ``ConnectionRefusedError`` while it is down). Those read like crashes and repeat for the
    whole outage, which the store's callers already report once (rota.runtime.resilience):
    they go to rota's debug log instead. Anything else asyncpg logs passes unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not is_transient(exc):
            return True
        log.debug("asyncpg pool: %s (%s: %s)", record.getMessage(), type(exc).__name__, exc)
        return False


_QUIET = _TransientPoolNoise()


def quiet_pool_logs() -> None:
    """Route asyncpg's pool tracebacks for transient failures to debug (idempotent)."""
    logging.getLogger("asyncpg.pool").addFilter(_QUIET)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool reset hook: nothing to reset. Pooled connections keep no session state (no
    LISTEN, no session advisory locks, no cursors, no SET), so the default reset (RESET ALL,
    UNLISTEN *, ...) would only add a round trip to every call."""
