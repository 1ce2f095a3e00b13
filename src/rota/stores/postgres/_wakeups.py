"""Wake-ups: the LISTEN connection that wakes idle workers and schedulers.

One dedicated connection (outside the pool: a pooled connection would be handed to queries),
made when the store first needs to hear others (a wait, a watch of ended jobs): a process
that only enqueues never opens it, nor spends a loop wake-up on each of its own NOTIFYs.
When it drops, every waiter is woken at once, so it re-checks the store instead of sleeping
through notifications that can no longer arrive; the connection is then re-established with
backoff and waiters are woken again (anything sent while it was down is re-checked). A
silently dead connection (half-open TCP) is found by a periodic ping.

While the server is away the listener is also the store's probe: it tries to reconnect every
half second at most (a refused connection costs next to nothing), and ``next_connection``
lets callers waiting out a backoff resume as soon as it is back (``wait_reconnected``). Its
own lines are debug: the callers that meet the outage log it (rota.runtime.resilience).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger("rota.stores.postgres")

_PING_EVERY = 30.0  # real seconds; infrastructure liveness, not job timing
_PING_TIMEOUT = 5.0
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 0.5  # the probe interval while the server is away: resume within about that


class Listener:
    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        channels: dict[str, Callable[[], None]],
        wake_all: Callable[[], None],
        relays: dict[str, Callable[[str | None], None]] | None = None,
    ) -> None:
        self._connect = connect
        self._channels = channels
        #: channels whose payload matters (the ended jobs' ids): passed on, '' as None
        self._relays = relays or {}
        self._wake_all = wake_all
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        #: Set while LISTEN is in effect (tests wait on it after forcing a reconnect).
        self.ready = asyncio.Event()
        #: How many times the connection was (re-)established.
        self.connections = 0
        self._connected = asyncio.Event()  # set (and replaced) at each (re)connection

    def ensure_running(self) -> None:
        """Start listening in the background if not yet started (the first connection wakes
        every waiter, who then re-checks), or again if the supervisor died of something
        unexpected rather than go deaf."""
        if self._closed or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.create_task(self._supervise(), name="rota-pg-listener")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._drop()

    async def _establish(self) -> None:
        conn = await self._connect()
        try:
            conn.add_termination_listener(self._on_terminated)
            for channel, callback in self._channels.items():
                await conn.add_listener(channel, _Relay(callback))
            for channel, relay in self._relays.items():
                await conn.add_listener(channel, _PayloadRelay(relay))
        except BaseException:
            conn.terminate()
            raise
        self._lost.clear()
        self._conn = conn
        self.connections += 1

    async def next_connection(self) -> None:
        """Wait for the next time the connection is re-established after it was lost or
        could not be made (not for its first, healthy connection)."""
        await self._connected.wait()

    def _on_terminated(self, conn: object) -> None:
        if conn is self._conn:
            self._lost.set()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self.ready.clear()
        if conn is not None:
            conn.remove_termination_listener(self._on_terminated)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), _PING_TIMEOUT)
            if not conn.is_closed():
                conn.terminate()

    async def _supervise(self) -> None:
        delay = _BACKOFF_FIRST
        lost_at: float | None = None
        failed = False
        while not self._closed:
            if self._conn is None or self._conn.is_closed():
                try:
                    await self._drop()
                    await self._establish()
                except Exception as exc:
                    log.debug("listener: reconnect failed (%s); retrying in %.1fs", exc, delay)
                    failed = True
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _BACKOFF_MAX)
                    continue
                delay = _BACKOFF_FIRST
                if lost_at is not None:
                    log.debug("listener: reconnected after %.1fs", time.monotonic() - lost_at)
                if lost_at is not None or failed:  # the server is back: end the callers' backoff
                    self._connected.set()
                    self._connected = asyncio.Event()
                lost_at, failed = None, False
                self._wake_all()  # notifications sent while we were away: re-check
                self.ready.set()
            if await self._healthy():
                continue
            log.debug("listener: connection lost; waking waiters and reconnecting")
            lost_at = time.monotonic()
            self.ready.clear()
            self._wake_all()
            await self._drop()

    async def _healthy(self) -> bool:
        """Wait until the connection is lost (False) or a ping succeeds (True)."""
        try:
            async with asyncio.timeout(_PING_EVERY):
                await self._lost.wait()
            return False
        except TimeoutError:
            pass
        conn = self._conn
        if conn is None:
            return False
        try:
            await conn.execute("SELECT 1", timeout=_PING_TIMEOUT)
        except Exception:
            return False
        return True


class _Relay:
    """An asyncpg listener callback that ignores its arguments."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback

    def __call__(self, *_args: object) -> None:
        self._callback()


class _PayloadRelay:
    """An asyncpg listener callback that passes the payload on ('' as None)."""

    def __init__(self, callback: Callable[[str | None], None]) -> None:
        self._callback = callback

    def __call__(self, _conn: object, _pid: object, _channel: object, payload: object) -> None:
        self._callback(payload if isinstance(payload, str) and payload else None)
