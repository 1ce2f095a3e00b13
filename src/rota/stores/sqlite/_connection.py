"""The store's one connection, the one thread that owns it, and error translation.

``SQLiteConnection`` is what the store's parts share. Every call hops to its dedicated
thread exactly once and runs there from start to end (a whole batch in one transaction), so
the event loop never waits on SQLite and the connection is never shared between threads.
The one exception, ``write_inline`` (enqueues), runs on the caller's thread when the write
lock is free at that instant (_inline.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from rota._errors import ConfigError, StoreClosed, StoreError, StoreUnavailable
from rota.stores.sqlite._config import SQLiteConfig
from rota.stores.sqlite._inline import BUSY, InlineWriter

T = TypeVar("T")

MIN_SQLITE = (3, 38, 0)

# primary result codes that mean "try again later", not "rota has a bug"
_TRANSIENT = {
    5,  # SQLITE_BUSY: the busy timeout ran out
    6,  # SQLITE_LOCKED
    7,  # SQLITE_NOMEM
    10,  # SQLITE_IOERR
    13,  # SQLITE_FULL
    14,  # SQLITE_CANTOPEN
    15,  # SQLITE_PROTOCOL
}

_Call = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


class SQLiteConnection:
    """The store's connection and the thread that owns it (both made by ``open``)."""

    def __init__(self, config: SQLiteConfig) -> None:
        self.config = config
        self._thread: DbThread | None = None
        self._conn: sqlite3.Connection | None = None
        self._inline: InlineWriter | None = None

    async def open(self, prepare: Callable[[sqlite3.Connection], object]) -> None:
        """Connect, then run ``prepare`` (the migrations) on the new connection."""
        if self._thread is not None:
            return
        thread = DbThread(f"rota-sqlite:{self.config.path}")
        try:
            self._conn = await thread.submit(self._connect, prepare)
        except BaseException:
            thread.stop()
            raise
        self._thread = thread
        self._inline = InlineWriter(self.config, _inline_connection, self._checkpoint, self._on_thread)

    def _connect(self, prepare: Callable[[sqlite3.Connection], object]) -> sqlite3.Connection:
        config = self.config
        if not config.in_memory:
            parent = Path(config.path).parent
            if not parent.is_dir():
                # a wrong path is a configuration mistake, not an outage worth retrying
                raise ConfigError(
                    f"cannot create the SQLite database {config.path!r}: "
                    f"directory {str(parent)!r} does not exist"
                )
        try:
            conn = connect(config)
        except sqlite3.Error as exc:
            raise translate(exc, f"open of {config.path!r}") from exc
        try:
            prepare(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, "schema migration") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        thread, conn, inline = self._thread, self._conn, self._inline
        self._thread = self._conn = self._inline = None
        if inline is not None:
            inline.close()
        if thread is None:
            return
        try:
            if conn is not None:
                await thread.submit(conn.close)
        finally:
            thread.stop()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(connection, *args, **kwargs)`` on the store's thread; driver errors become
        rota's (StoreUnavailable when transient)."""
        thread, conn = self._thread, self._conn
        if thread is None or conn is None:
            raise StoreClosed("the SQLite store is not open (call open() first)")
        return await thread.submit(_guarded, fn, conn, args, kwargs)

    async def write_inline(self, fn: Callable[..., T], *args: Any) -> T:
        """``run`` for one write transaction (``write``), done on the caller's thread when
        the write lock is free at once, else on the store's thread (_inline.py)."""
        inline = self._inline
        if inline is not None:
            # a turn of the loop first, as the hop would give: a loop of enqueues must not
            # keep the loop's other tasks (heartbeats, requests) waiting; cancelled here,
            # nothing is written
            await asyncio.sleep(0)
            try:
                done = inline.run(fn, *args)
            except sqlite3.Error as exc:
                raise translate(exc, getattr(fn, "__name__", "call")) from exc
            if done is not BUSY:
                return done  # type: ignore[no-any-return]
        return await self.run(fn, *args)

    def _on_thread(self, fn: Callable[[], None]) -> None:
        """``fn()`` on the store's thread, not awaited (it must not raise)."""
        thread = self._thread
        if thread is not None:
            thread.submit(fn)

    def _checkpoint(self, then: Callable[[], None]) -> None:
        """A passive checkpoint on the store's thread, then ``then()`` there, not awaited
        (the inline connection never checkpoints: that would sync the database file on the
        caller's thread)."""
        thread, conn = self._thread, self._conn
        if thread is not None and conn is not None:
            thread.submit(_checkpoint, conn, then)
        else:
            then()


def _checkpoint(conn: sqlite3.Connection, then: Callable[[], None]) -> None:
    try:
        # best effort: a busy checkpoint is retried at the next one, SQLite's own too
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        then()


def _inline_connection(config: SQLiteConfig) -> sqlite3.Connection:
    # used by whichever thread holds InlineWriter's lock, one at a time
    return connect(config, check_same_thread=False)


def _guarded(
    fn: Callable[..., T], conn: sqlite3.Connection, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    try:
        return fn(conn, *args, **kwargs)
    except sqlite3.Error as exc:
        raise translate(exc, getattr(fn, "__name__", "call")) from exc


class DbThread:
    """A single worker thread running submitted calls in order."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        # daemon: a store that was never closed must not hang interpreter exit
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, args, fut, loop))
        return fut

    def stop(self) -> None:
        """Finish queued calls, then end the thread (does not wait for it)."""
        self._queue.put(None)

    def _main(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, args, fut, loop = item
            if fut.cancelled():  # the caller gave up before we started: do nothing
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to the awaiting caller
                _deliver(loop, fut.set_exception, fut, exc)
            else:
                _deliver(loop, fut.set_result, fut, result)


def _deliver(
    loop: asyncio.AbstractEventLoop,
    setter: Callable[[Any], None],
    fut: asyncio.Future[Any],
    value: Any,
) -> None:
    def apply() -> None:
        if not fut.done():
            setter(value)

    # a closed loop means nobody is waiting any more
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(apply)


def translate(exc: sqlite3.Error, what: str) -> StoreError:
    """Map a driver error to rota's: transient ones become StoreUnavailable."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _TRANSIENT:
        return StoreUnavailable(f"SQLite {what} failed: {exc}")
    if isinstance(exc, sqlite3.OperationalError) and code is None:
        return StoreUnavailable(f"SQLite {what} failed: {exc}")
    return StoreError(f"SQLite {what} failed: {exc}")


def connect(config: SQLiteConfig, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open a connection in autocommit mode (we issue BEGIN IMMEDIATE ourselves) and set
    WAL, synchronous, foreign keys and the busy timeout."""
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise StoreError(
            f"the SQLite store needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer "
            f"(RETURNING, UPDATE FROM, ->>); this Python has {sqlite3.sqlite_version}"
        )
    conn = sqlite3.connect(
        config.path,
        timeout=config.busy_timeout,
        isolation_level=None,
        cached_statements=256,
        check_same_thread=check_same_thread,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(config.busy_timeout * 1000)}")
        if not config.in_memory:
            _enable_wal(conn, config.busy_timeout)
        conn.execute(f"PRAGMA synchronous = {config.synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    # Switching a new file to WAL needs an exclusive lock and does not always go through
    # the busy handler, so two processes opening a new file at once retry here.
    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) not in (5, 6) or (time.monotonic() >= deadline):
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
            continue
        if str(mode).lower() != "wal":
            raise StoreError(f"SQLite refused WAL mode (journal_mode is {mode!r})")
        return


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: BEGIN IMMEDIATE takes the write lock up front (waiting up to
    the busy timeout), so no other process can change what we read before we write."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        # also after a failed COMMIT: never leave the connection inside a transaction
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise
