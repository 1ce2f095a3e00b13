"""Enqueue writes on the caller's own thread while the database is free.

A job's insert costs SQLite a few tens of microseconds; handing it to the store's thread and
back costs as much again (a queue, a context switch, an event-loop wake-up), which made a
single ``enqueue`` on SQLite a fraction of Huey's rate. So ``add`` first tries a second
connection on the caller's thread, with two limits that keep the event loop from ever waiting
on SQLite:

* its busy timeout is zero: when another connection holds the write lock (a worker's
  finish, another process), the attempt fails at once, before anything is written, and the
  write goes to the store's thread, which waits for the lock as every other write does;
* it never checkpoints (``wal_autocheckpoint=0``): a checkpoint copies pages to the database
  file and syncs it, so every ``CHECKPOINT_EVERY`` inline commits the store's thread runs a
  passive one instead, and writes take the store's thread until it is done: the WAL starts
  over only when a write begins after a checkpoint that caught up with it, which inline
  writes running alongside would never let happen (the WAL would grow without bound).

Only for a file opened with ``synchronous=normal``, whose WAL commits do not sync: with
``full``/``extra`` each commit waits for the disk, which belongs on the store's thread.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Final

from rota.stores.sqlite._config import SQLiteConfig

log = logging.getLogger("rota.stores.sqlite")

#: inline commits between two checkpoints run on the store's thread (a one-job commit adds
#: about seven pages to the WAL: ~700 pages, under SQLite's own default of 1,000)
CHECKPOINT_EVERY = 100

_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED: someone else is writing


class Busy:
    """The inline attempt wrote nothing: run the call on the store's thread instead."""


BUSY: Final = Busy()


class InlineWriter:
    """The caller-thread connection (made on the store's thread at the first call, which
    takes the store's thread itself) and its checkpoint schedule."""

    def __init__(
        self,
        config: SQLiteConfig,
        connect: Callable[[SQLiteConfig], sqlite3.Connection],
        checkpoint: Callable[[Callable[[], None]], None],
        on_store_thread: Callable[[Callable[[], None]], None],
    ) -> None:
        self._config = config
        self._connect = connect
        self._checkpoint = checkpoint
        self._on_store_thread = on_store_thread
        self._conn: sqlite3.Connection | None = None
        self._opening = False
        # one caller at a time; a second thread (a store shared by two loops) takes the
        # store's thread rather than wait here
        self._lock = threading.Lock()
        self._commits = 0
        self._checkpointing = False  # set here, cleared on the store's thread when done
        self.enabled = not config.in_memory and config.synchronous == "normal"

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(connection, *args)`` here and now, or ``BUSY`` if it could not start at once
        (nothing written). ``fn`` must be one write transaction (``_connection.write``):
        a lock refused at its ``BEGIN IMMEDIATE`` leaves no trace. Other errors propagate."""
        if not self.enabled or self._checkpointing or not self._lock.acquire(blocking=False):
            return BUSY
        try:
            conn = self._conn
            if conn is None:
                if not self._opening:
                    # connected on the store's thread: opening a file may wait for its lock
                    self._opening = True
                    self._on_store_thread(self._open)
                return BUSY
            try:
                result = fn(conn, *args)
            except sqlite3.OperationalError as exc:
                if ((getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF) in _BUSY:
                    return BUSY
                raise
            self._commits += 1
            if self._commits % CHECKPOINT_EVERY == 0:
                self._checkpointing = True
                self._checkpoint(self._checkpointed)
            return result
        finally:
            self._lock.release()

    def _checkpointed(self) -> None:
        self._checkpointing = False

    def _open(self) -> None:
        """Runs on the store's thread; the connection is used from the next call on."""
        try:
            conn = self._connect(self._config)
            conn.execute("PRAGMA busy_timeout = 0")
            conn.execute("PRAGMA wal_autocheckpoint = 0")
        except Exception as exc:
            # The store's thread has its own connection; this one is only a shortcut, so any
            # failure to make it (sqlite3.Error, the StoreError of a file that refuses WAL, an
            # OSError) turns the shortcut off. Nobody awaits this call: an exception let out
            # would only be a "never retrieved" warning, with inline attempts left waiting
            # for a connection that never comes.
            log.debug("inline SQLite writes disabled: %s", exc)
            self.enabled = False
            return
        with self._lock:
            if self.enabled:
                self._conn = conn
                return
        conn.close()  # the store closed meanwhile

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            self.enabled = False
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
