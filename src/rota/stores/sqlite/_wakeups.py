"""Wake-ups across processes: the database file watched on a short period.

A SQLite file cannot signal another process, but ``PRAGMA data_version`` changes whenever
another connection (in this process or any other) commits to the database, and reading it
touches only the WAL index in shared memory: no lock, no transaction. While a waiter waits in
``wait_for_jobs``, a small daemon thread looks every ``WATCH_INTERVAL`` (a ``stat`` of the
WAL file first, the pragma when it moved: see ``DataVersionWatch``) and wakes the waiter's
loop on a change, so a job another process adds is picked up within about that, not within
the polling interval. A thread rather than a timer on the event loop: a timer callback costs
an event-loop turn per look, a thread's sleep and ``stat`` a few microseconds (an idle worker
spends about 0.1 % of a core on it more; docs/benchmarks.md).

Any commit wakes the waiter (a heartbeat, another worker's outcome): a spurious wake-up
costs one claim that finds nothing, which is what ``wait_for_jobs`` allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time

from rota.stores.sqlite._config import SQLiteConfig

#: Real seconds between two looks while a waiter waits: the pickup delay it adds at most.
WATCH_INTERVAL = 0.004

_Target = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class DataVersionWatch:
    """Watches one database file for commits while armed (``wait``).

    The cheap look is a ``stat`` of the WAL file (a commit appends to it: its size or
    modification time moves); ``PRAGMA data_version`` (exact) is asked when the stat moved,
    and every ``EXACT_EVERY`` looks besides, for the commit the stat cannot see (one that
    rewrote a reset WAL to the same size within the file system's timestamp granularity)."""

    EXACT_EVERY = 10

    def __init__(self, config: SQLiteConfig) -> None:
        self._config = config
        self._wal = config.path + "-wal"
        self._conn: sqlite3.Connection | None = None
        self._seen: int | None = None
        self._stat: tuple[int, int, int] | None = None
        self._looks = 0
        self._armed = threading.Event()
        self._target: _Target | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: a change was seen for a waiter that was cancelled before it heard of it: the next
        #: wait reports it at once
        self._missed = False

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        """Wait up to ``timeout`` real seconds for ``event`` (set in this process) or a
        commit to the file (any process) since the previous wait; True when woken
        (``event`` is then cleared)."""
        if event.is_set():
            event.clear()
            return True
        loop = asyncio.get_running_loop()
        woke: asyncio.Future[None] = loop.create_future()
        # a change is consumed (the last look's state moves on) only under the lock and
        # only for a live waiter: the first look here, or the thread's for the armed one
        with self._lock:
            if self._missed or self._changed():  # (a wait of 0 looks too)
                self._missed = False
                return True
            if timeout <= 0:
                return False
            self._target = (loop, woke)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rota-sqlite-watch", daemon=True)
                self._thread.start()
            self._armed.set()
        local = asyncio.ensure_future(event.wait())
        local.add_done_callback(lambda _: _wake(woke))
        try:
            async with asyncio.timeout(timeout):
                await woke
        except TimeoutError:
            return False
        finally:
            with self._lock:
                # only our own: a cancelled waiter's cleanup may run after the next waiter
                # armed (nothing yielded between them), whose wake-up it must not take away
                if self._target is not None and self._target[1] is woke:
                    self._target = None
                    self._armed.clear()
            local.cancel()
        event.clear()
        return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            # no thread yet (every wait so far was answered by its first look): the
            # connection that look opened is closed here, not left to the garbage collector
            conn = None
            if self._thread is None:
                conn, self._conn = self._conn, None
        self._armed.set()  # the thread, if any, sees _closed, closes its connection and ends
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _run(self) -> None:
        try:
            while True:
                self._armed.wait()
                if self._closed:
                    return
                with self._lock:
                    target = self._target
                    if target is None or not self._changed():
                        target = None
                    else:  # delivered to the waiter that is armed now, never a stale one
                        self._target = None
                        self._armed.clear()
                if target is not None:
                    loop, woke = target
                    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                        loop.call_soon_threadsafe(self._deliver, woke)
                    continue
                time.sleep(WATCH_INTERVAL)
        finally:
            with self._lock:
                conn, self._conn = self._conn, None
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()

    def _changed(self) -> bool:
        """True when the database changed since the previous look (the first: True). An
        error (the file is being replaced, the disk is gone) reads as a change: the
        waiter's claim then meets it and its handling."""
        try:
            st = os.stat(self._wal)
            stat = (st.st_size, st.st_mtime_ns, st.st_ino)
        except OSError:
            stat = None  # no WAL file (yet, or after the last connection closed)
        self._looks += 1
        if stat is not None and stat == self._stat and self._looks % self.EXACT_EVERY:
            return False
        self._stat = stat
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(
                    self._config.path, timeout=0, isolation_level=None, check_same_thread=False
                )
            row = self._conn.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
            self._conn = self._seen = None
            return True
        version = int(row[0])
        changed, self._seen = version != self._seen, version
        return changed

    def _deliver(self, woke: asyncio.Future[None]) -> None:
        """On the waiter's loop: wake it, or, when it was cancelled meanwhile (its caller's
        other wake-up won), the waiter armed since, or else the next one."""
        if not woke.done():
            woke.set_result(None)
            return
        with self._lock:
            current = self._target
            if current is None:
                self._missed = True
            else:
                self._target = None
                self._armed.clear()
        if current is not None:
            current[0].call_soon_threadsafe(_wake, current[1])


def _wake(woke: asyncio.Future[None]) -> None:
    if not woke.done():
        woke.set_result(None)
