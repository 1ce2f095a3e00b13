"""Where every component gets its time.

All rota code asks a ``Clock`` for the time and for sleeps, so tests can drive a
``rota.testing.FakeClock`` instead of waiting. Wall time is always timezone-aware UTC.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from rota._errors import ConfigError


@runtime_checkable
class Clock(Protocol):
    """The source of time for every rota component."""

    def now(self) -> datetime:
        """Current wall time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; for measuring lease validity locally."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the caller for ``seconds`` of this clock's time."""
        ...

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Timer:
        """Call ``callback()`` on the running event loop after ``seconds`` of this clock's
        time, unless the returned timer is cancelled first (a job's timeout)."""
        ...


class Timer(Protocol):
    """A callback ``Clock.call_later`` scheduled; ``cancel()`` before it fires stops it."""

    def cancel(self) -> object: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, seconds: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback)


SYSTEM_CLOCK = SystemClock()


def utc(dt: datetime) -> datetime:
    """Return ``dt`` in UTC; naive datetimes are refused rather than guessed at."""
    if dt.tzinfo is None:
        raise ConfigError(f"datetime {dt.isoformat()} has no time zone; pass an aware datetime")
    return dt.astimezone(UTC)
