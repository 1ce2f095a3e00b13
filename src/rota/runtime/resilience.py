"""Retrying store calls through transient failures: a store outage pauses work, it does not
crash the worker or lose jobs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

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


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    clock: Clock,
    what: str,
    stopping: Callable[[], bool],
    delays: Callable[[int], float] = backoff_delays(),  # noqa: B008 - pure function, immutable
) -> T:
    """Run ``call``, retrying ``StoreUnavailable`` with exponential backoff (0.1 s → 5 s)
    until it succeeds or ``stopping()`` turns true (then the last error is raised)."""
    failures = 0
    while True:
        try:
            result = await call()
        except StoreUnavailable as exc:
            if stopping():
                raise
            pause = delays(failures)
            failures += 1
            log.warning("store unavailable during %s (%s); retry %d in %.1fs", what, exc, failures, pause)
            await clock.sleep(pause)
        else:
            if failures:
                log.info("store reachable again after %d retries (%s)", failures, what)
            return result


async def until_stopped(
    call: Callable[[], Awaitable[T]], *, clock: Clock, what: str, stopping: Callable[[], bool]
) -> T | None:
    """``with_retries``, except that a failure once ``stopping()`` is true gives None (the
    caller is shutting down and has nothing left to do with the result) instead of raising."""
    try:
        return await with_retries(call, clock=clock, what=what, stopping=stopping)
    except Exception:
        if stopping():
            log.warning("gave up %s: shutting down", what)
            return None
        raise
