"""Where every component gets its time.

All rota code asks a ``Clock`` for the time and for sleeps, so tests can drive a
``rota.testing.FakeClock`` instead of waiting. Wall time is always timezone-aware UTC.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


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


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()


def utc(dt: datetime) -> datetime:
    """Return ``dt`` in UTC; naive datetimes are refused rather than guessed at."""
    if dt.tzinfo is None:
        from rota._errors import ConfigError

        raise ConfigError(f"datetime {dt.isoformat()} has no time zone; pass an aware datetime")
    return dt.astimezone(UTC)
