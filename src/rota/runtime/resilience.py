"""Retrying store calls through transient failures: a store outage pauses work, it does not
crash the worker or lose jobs.

An outage is logged as one warning when it starts and one line when it ends, however many of
the process's loops (claims, heartbeats, outcomes, the scheduler...) run into it; the
failures in between are debug lines. A stopping caller never sits out a backoff step: the
pause ends when it is told to stop, and also when the store reports its connection is back
(``Store.wait_reconnected``), so work resumes when the server returns, not at the end of
the current step.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rota._clock import Clock
from rota._errors import StoreUnavailable

T = TypeVar("T")
log = logging.getLogger("rota.store")

FIRST_DELAY = 0.1
MAX_DELAY = 5.0


def backoff_delays(first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> Callable[[int], float]:
    """Delay before retry ``n`` (0-based): first * 2**n, capped."""

    def delay(n: int) -> float:
        return min(cap, first * 2.0 ** min(n, 64))

    return delay


class OutageLog:
    """Whether the callers of a store are meeting an outage, for logging only.

    Each caller (a *site*: one ``with_retries`` call, the heartbeat loop...) reports its
    failures and its recovery. The first failure while no site is failing is a warning; the
    recovery of the last failing site is one info line with the outage's length; the rest is
    debug. A site that gives up (its loop is stopping) is forgotten without a line.
    """

    def __init__(self, logger: logging.Logger = log) -> None:
        self.log = logger
        self._failing: set[object] = set()
        self._since = 0.0
        self._failures = 0

    @property
    def down(self) -> bool:
        """Whether some site is failing now."""
        return bool(self._failing)

    def failed(self, site: object, what: str, exc: BaseException) -> None:
        self._failures += 1
        if not self._failing:
            self._since = time.monotonic()  # real time: this only words a log line
            self._failures = 1
            self.log.warning("store unavailable during %s (%s); retrying until it is back", what, exc)
        else:
            self.log.debug("store still unavailable during %s (%s)", what, exc)
        self._failing.add(site)

    def recovered(self, site: object, what: str) -> None:
        if site not in self._failing:
            return
        self._failing.discard(site)
        if not self._failing:
            self.log.info(
                "store reachable again after %.1fs (%d failed calls; %s succeeded)",
                time.monotonic() - self._since,
                self._failures,
                what,
            )

    def forget(self, site: object) -> None:
        self._failing.discard(site)


#: The process's outage log: every caller that does not bring its own shares it, so one
#: outage is one warning however many loops meet it.
OUTAGES = OutageLog()


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    clock: Clock,
    what: str,
    stopping: Callable[[], bool],
    delays: Callable[[int], float] = backoff_delays(),  # noqa: B008 - pure function, immutable
    interrupt: asyncio.Event | None = None,
    wake: Callable[[], Awaitable[Any]] | None = None,
    outages: OutageLog | None = None,
) -> T:
    """Run ``call``, retrying ``StoreUnavailable`` with exponential backoff (0.1 s → 5 s)
    until it succeeds or ``stopping()`` turns true (then the last error is raised).

    ``interrupt`` set ends a backoff pause at once (the caller is stopping: ``stopping()``
    then decides). ``wake()`` completing ends it too and starts the backoff over: give
    ``store.wait_reconnected`` so that a caller resumes as soon as the server is back.
    """
    site = object()
    book = outages if outages is not None else OUTAGES
    failures = 0
    try:
        while True:
            try:
                result = await call()
            except StoreUnavailable as exc:
                if stopping():
                    raise
                book.failed(site, what, exc)
                pause = delays(failures)
                failures += 1
                if await _pause(clock, pause, interrupt, wake):
                    failures = 0  # the store is back: a new failure is a new outage's first
                if stopping():
                    raise
            else:
                book.recovered(site, what)
                return result
    finally:
        book.forget(site)


async def _pause(
    clock: Clock, seconds: float, interrupt: asyncio.Event | None, wake: Callable[[], Awaitable[Any]] | None
) -> bool:
    """Sleep ``seconds`` on ``clock``, or less when interrupted or woken; True when woken."""
    if interrupt is None and wake is None:
        await clock.sleep(seconds)
        return False
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    tasks: list[asyncio.Future[Any]] = [sleeper]
    waker = asyncio.ensure_future(wake()) if wake is not None else None
    if waker is not None:
        tasks.append(waker)
    if interrupt is not None:
        tasks.append(asyncio.ensure_future(interrupt.wait()))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return waker is not None and waker.done() and not waker.cancelled() and waker.exception() is None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def until_stopped(
    call: Callable[[], Awaitable[T]],
    *,
    clock: Clock,
    what: str,
    stopping: Callable[[], bool],
    interrupt: asyncio.Event | None = None,
    wake: Callable[[], Awaitable[Any]] | None = None,
    outages: OutageLog | None = None,
) -> T | None:
    """``with_retries``, except that a failure once ``stopping()`` is true gives None (the
    caller is shutting down and has nothing left to do with the result) instead of raising."""
    try:
        return await with_retries(
            call, clock=clock, what=what, stopping=stopping, interrupt=interrupt, wake=wake, outages=outages
        )
    except Exception as exc:
        if stopping():
            log.info("gave up %s: shutting down (%s)", what, exc)
            return None
        raise
