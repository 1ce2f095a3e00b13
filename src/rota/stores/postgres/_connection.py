"""What the PostgreSQL store's parts share: the pool (and unpooled connections for
migrations and the listener), and the mapping of driver failures to rota's errors.

Transient (``StoreUnavailable``: the caller retries with backoff): the connection failed or
was lost (SQLSTATE class 08, or the socket died), the server is short of resources (class
53: too many connections, out of memory, disk full), an operator intervened (57P01 admin
shutdown, 57P02 crash shutdown, 57P03 cannot connect now: a restart or failover), a
transaction was rolled back to resolve a conflict (class 40: serialization failure,
deadlock), or a lock wait timed out (55P03).

Also transient: asyncpg's ``InternalClientError`` "cannot switch to state N; another
operation is in progress". A server shutting down sends each idle pooled connection an error
before closing it; a query started on such a connection in between finds its protocol still
consuming that error. The connection is dead, so it counts as lost like the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg

from rota._errors import RotaError, StoreClosed, StoreError, StoreUnavailable
from rota.stores.postgres._config import PostgresConfig
from rota.stores.postgres._migrate import apply_migrations, check_version

log = logging.getLogger("rota.stores.postgres")

_TRANSIENT_CLASSES = ("08", "53", "40", "57P", "55P03", "58")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        return "another operation" in str(exc)
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        return state.startswith(_TRANSIENT_CLASSES)
    if isinstance(exc, asyncpg.InterfaceError):
        # the pool handed out (or we held) a connection that has since closed
        return "closed" in str(exc) or "connection" in str(exc).lower()
    return isinstance(exc, (OSError, TimeoutError, ConnectionError))


def connection_lost(exc: BaseException) -> bool:
    """Whether every pooled connection is suspect (server restarted, network dropped)."""
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        return state.startswith(("08", "57P"))
    return isinstance(exc, (OSError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError))


class PostgresConnection:
    """The pool of one store (made by ``open``), and its channels for NOTIFY."""

    def __init__(self, config: PostgresConfig) -> None:
        self.config = config
        # channel names are per schema: stores on other schemas of the database stay asleep
        self.jobs_channel = f"rota.{config.schema}.jobs"
        self.schedules_channel = f"rota.{config.schema}.schedules"
        #: jobs that ended: the id of one cancelled or aborted, '' for "some finished"
        self.ended_channel = f"rota.{config.schema}.ended"
        self._pool: asyncpg.Pool | None = None
        self._spare: asyncpg.Connection | None = None  # see quick()
        self._spare_busy = False
        self._closing: set[asyncio.Future[None]] = set()  # spares being closed

    async def open(self) -> None:
        """Migrate (unless ``migrate=false``, then check the version) and start the pool."""
        if self._pool is not None:
            return
        quiet_pool_logs()
        with self.mapped_errors():
            if self.config.migrate:
                await self.migrate()
            else:
                conn = await self.connect()
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

    async def close(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.terminate()  # it holds no transaction between statements: nothing to finish
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                async with asyncio.timeout(5.0):
                    await pool.close()
            except TimeoutError:
                pool.terminate()

    async def migrate(self) -> list[int]:
        """Apply the migrations the schema lacks; works whether or not the pool is open."""
        with self.mapped_errors():
            conn = await self.connect()
            try:
                return await apply_migrations(conn, self.config.schema)
            finally:
                await conn.close()

    async def connect(self) -> asyncpg.Connection:
        """A new connection outside the pool (migrations, the listener)."""
        conn: asyncpg.Connection = await asyncpg.connect(
            self.config.dsn, timeout=self.config.connect_timeout, server_settings=self._settings()
        )
        return conn

    def _settings(self) -> dict[str, str]:
        return {
            "search_path": f'"{self.config.schema}"',
            "application_name": "rota",
            # JIT compiles plans of statements the planner thinks costly (big tables); for
            # the short statements here that adds tens of milliseconds and saves nothing
            "jit": "off",
        }

    @contextlib.contextmanager
    def mapped_errors(self) -> Iterator[None]:
        """Driver failures of opening: transient ones become ``StoreUnavailable``, a lasting
        refusal (wrong password, no such database or role, no permission) one line of
        ``StoreError``; anything else passes unchanged."""
        try:
            yield
        except Exception as exc:
            if is_transient(exc):
                raise self.unavailable(exc) from exc
            if not isinstance(exc, RotaError) and isinstance(
                exc, asyncpg.PostgresError | asyncpg.InterfaceError
            ):
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise StoreError(
                    f"PostgreSQL at {self.config.describe()} refused to open the store: {reason}"
                ) from exc
            raise

    def unavailable(self, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"PostgreSQL at {self.config.describe()} unavailable: {exc}")

    @contextlib.asynccontextmanager
    async def conn(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; transient failures surface as ``StoreUnavailable``."""
        pool = self._pool
        if pool is None:
            raise StoreClosed(f"the store {self.config.describe()} is not open (call open())")
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
            raise self.unavailable(exc) from exc

    @contextlib.asynccontextmanager
    async def quick(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection for a short call (one enqueue): the store's spare connection when it
        is free, else a pooled one. The pool's acquire and release (a task that shields the
        release) cost about as much as a one-row INSERT; the spare is taken and given back by
        a flag. It is made at its first use and never holds a transaction between calls; a
        call on it that fails other than by the server's answer (cancelled, connection
        lost) closes it, as its state is then unknown, and the next call makes a new one."""
        if self._spare_busy or self._pool is None:
            async with self.conn() as conn:
                yield conn
            return
        self._spare_busy = True
        try:
            spare = self._spare
            if spare is None or spare.is_closed():
                self._spare = None
                with self.mapped_errors():
                    spare = self._spare = await self.connect()
            try:
                yield spare
            except RotaError:
                raise  # rota's own verdict on what the server said
            except asyncpg.PostgresError as exc:
                if connection_lost(exc):  # e.g. the server is shutting down
                    self._drop_spare(spare)
                if is_transient(exc):
                    raise self.unavailable(exc) from exc
                raise
            except BaseException as exc:
                self._drop_spare(spare)
                if isinstance(exc, Exception) and is_transient(exc):
                    raise self.unavailable(exc) from exc
                raise
        finally:
            self._spare_busy = False

    def _drop_spare(self, spare: asyncpg.Connection) -> None:
        """Stop using ``spare``; close it in the background. Not terminated: asyncpg has sent
        the server a cancel request for a cancelled statement, and ``close`` waits for it, so
        a cancelled add is stopped where it waits (as on a pooled connection) rather than
        left to run on after the client is gone."""
        if self._spare is spare:
            self._spare = None
        task = asyncio.ensure_future(_close_quietly(spare))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @contextlib.asynccontextmanager
    async def tx(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.conn() as conn, conn.transaction():
            yield conn

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self.conn() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
            return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self.conn() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(sql, *args)
            return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.conn() as conn:
            return await conn.fetchval(sql, *args)


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


async def _close_quietly(conn: asyncpg.Connection) -> None:
    try:
        async with asyncio.timeout(5.0):
            await conn.close()
    except asyncio.CancelledError:
        conn.terminate()
        raise
    except Exception:  # nobody awaits this: a connection that will not close is cut
        conn.terminate()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool reset hook: nothing to reset. Pooled connections keep no session state (no
    LISTEN, no session advisory locks, no cursors, no SET), so the default reset (RESET ALL,
    UNLISTEN *, ...) would only add a round trip to every call."""
