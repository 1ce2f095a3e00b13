"""What every trigger provides, and the shared datetime checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from rota._errors import InvalidTrigger

UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)


@runtime_checkable
class Trigger(Protocol):
    """When a schedule fires. Immutable and pure: no I/O, no clock of its own.

    The scheduler calls ``first_fire(now)`` once when a schedule is created (or its trigger
    changes) and ``next_fire(previous_fire)`` after each fire. Every method takes and
    returns timezone-aware datetimes; returned instants are in UTC.
    """

    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire strictly after ``after``, or None when it will never fire again."""
        ...

    def first_fire(self, now: datetime) -> datetime | None:
        """The first fire of a schedule created at ``now``.

        For recurring triggers this is ``next_fire(now)``. A one-time trigger returns its
        instant even when it is already past, so the scheduler's misfire policy decides
        whether a late one-time schedule still runs.
        """
        ...

    def describe(self) -> str:
        """A short human description, for the CLI and dashboard."""
        ...

    def dumps(self) -> str:
        """Canonical compact JSON; equal triggers give equal strings (see ``load_trigger``)."""
        ...


def aware_utc(dt: datetime, what: str) -> datetime:
    """``dt`` in UTC; a naive datetime or a non-datetime is an ``InvalidTrigger``."""
    if not isinstance(dt, datetime):
        raise InvalidTrigger(f"{what} must be a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise InvalidTrigger(f"{what} {dt.isoformat()} has no time zone; pass an aware datetime")
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # datetime.min/max with an offset falls off the calendar in UTC
        raise InvalidTrigger(f"{what} {dt.isoformat()} is out of range") from None


def to_posix(dt: datetime) -> tuple[int, int]:
    """Whole POSIX seconds and the leftover microseconds of an aware datetime."""
    delta = dt - UTC_EPOCH
    return delta.days * 86_400 + delta.seconds, delta.microseconds


def from_posix(seconds: int) -> datetime:
    return UTC_EPOCH + timedelta(seconds=seconds)
