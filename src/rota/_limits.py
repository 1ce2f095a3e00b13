"""The documented limits of every value a user gives rota, and the checks that enforce them.

Every public entry point (``App``, ``@app.task``, ``enqueue``, ``RetryPolicy``, ``Retry``,
triggers, worker and lease settings, the CLI) runs its input through these checks before it
writes anything, so a value a store could not hold, or one the worker could not schedule,
is refused where it is given with a typed error. The limits (see docs/limits.md):

* priority: an integer in ``[PRIORITY_MIN, PRIORITY_MAX]``, the range of PostgreSQL's
  ``integer``; SQLite and MongoDB hold 64-bit integers and Redis sorts by a double score,
  which is exact for every integer of this range.
* durations (delays, timeouts, leases, retry base/cap, ``Retry(after)``, intervals...): a
  finite number of seconds or a ``timedelta``, at most ``MAX_DURATION`` (100 years).
* instants (``at``, one-time triggers, interval anchors): timezone-aware, from
  ``EARLIEST`` (1970-01-01, Redis orders due times as zero-padded non-negative
  milliseconds) to before ``LATEST`` (9999-01-01, which leaves room for lease and retry
  arithmetic inside Python's ``datetime``).
* names (queue, task, dedupe key, schedule id, lock name): non-empty text of at most
  ``MAX_NAME_LENGTH`` characters, valid UTF-8, without NUL (PostgreSQL text cannot hold it).
* counts: attempts ``1..MAX_ATTEMPTS``, list limits ``1..MAX_LIST_LIMIT``.
* payloads: at most ``DEFAULT_MAX_PAYLOAD_BYTES`` encoded (``App(max_payload_bytes=...)`` or
  ``ROTA_MAX_PAYLOAD_BYTES`` change it).

``bool`` is never accepted where a number is expected (``True`` is an ``int`` in Python, but
``delay=True`` is a bug, not one second).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TypeGuard

from rota._errors import ConfigError, RotaError
from rota._models import FINAL_STATUSES, JobStatus

PRIORITY_MIN = -(2**31)
PRIORITY_MAX = 2**31 - 1
MAX_DURATION = timedelta(days=36_525)  # 100 years
MAX_DURATION_SECONDS = MAX_DURATION.total_seconds()
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
MAX_NAME_LENGTH = 200
MAX_ATTEMPTS = 1_000_000
MAX_LIST_LIMIT = 10_000
DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024
#: The largest payload limit an App accepts (PostgreSQL's bytea and MongoDB's 16 MiB
#: documents set the real ceiling; beyond this a store would refuse the row anyway).
MAX_PAYLOAD_BYTES_LIMIT = 15 * 1024 * 1024


def is_number(value: object) -> TypeGuard[int | float]:
    """An int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def duration(
    value: object,
    what: str,
    *,
    minimum: float = 0.0,
    positive: bool = False,
    maximum: float = MAX_DURATION_SECONDS,
    error: type[RotaError] = ConfigError,
) -> float:
    """Seconds from a finite number or a ``timedelta``, within ``[minimum, maximum]``
    (``positive``: strictly above zero)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif is_number(value):
        try:
            seconds = float(value)
        except OverflowError:
            raise error(f"{what} is too large, got {value!r}") from None
    else:
        raise error(f"{what} must be seconds (a number) or a timedelta, got {_show(value)}")
    if not math.isfinite(seconds):
        raise error(f"{what} must be a finite number of seconds, got {value!r}")
    if positive and seconds <= 0:
        raise error(f"{what} must be positive, got {seconds:g}s")
    if seconds < minimum:
        raise error(f"{what} must be at least {minimum:g}s, got {seconds:g}s")
    if seconds > maximum:
        raise error(f"{what} must be at most {_span(maximum)}, got {seconds:g}s")
    return seconds


def options(given: Iterable[str], known: Iterable[str], what: str) -> None:
    """Keyword options: ``ConfigError`` naming any of ``given`` not ``known`` (a typo such as
    ``dely=5`` must not be ignored)."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"unknown {what} option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def status(value: JobStatus | str | None) -> JobStatus | None:
    """A job status by its name (None stays None)."""
    if value is None:
        return None
    try:
        return JobStatus(value)
    except ValueError:
        names = ", ".join(s.value for s in JobStatus)
        raise ConfigError(f"unknown status {value!r}; use one of {names}") from None


def finished_statuses(values: object) -> set[JobStatus]:
    """Statuses of finished jobs (succeeded, failed, cancelled), from a list of names."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ConfigError(f"statuses must be a list of statuses, got {type(values).__name__}")
    wanted = {s for s in (status(v) for v in values) if s is not None}
    unfinished = sorted(s.value for s in wanted if s not in FINAL_STATUSES)
    if unfinished:
        raise ConfigError(f"only finished jobs can be purged, not {', '.join(unfinished)} ones")
    return wanted


def integer(
    value: object, what: str, *, minimum: int, maximum: int, error: type[RotaError] = ConfigError
) -> int:
    """An ``int`` (not bool, not float) within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what} must be an integer, got {_show(value)}")
    if not minimum <= value <= maximum:
        raise error(f"{what} must be between {minimum} and {maximum}, got {_short(value)}")
    return int(value)


def priority(value: object, what: str = "priority") -> int:
    """A job priority: an integer in ``[PRIORITY_MIN, PRIORITY_MAX]``; higher runs first."""
    return integer(value, what, minimum=PRIORITY_MIN, maximum=PRIORITY_MAX)


def flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{what} must be True or False, got {_show(value)}")
    return value


def name(value: object, what: str, *, error: type[RotaError] = ConfigError) -> str:
    """A name stored by every store: non-empty, at most ``MAX_NAME_LENGTH`` characters,
    valid UTF-8, no NUL."""
    if not isinstance(value, str):
        raise error(f"{what} must be a string, got {_show(value)}")
    if not value:
        raise error(f"{what} must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise error(f"{what} must be at most {MAX_NAME_LENGTH} characters, got {len(value)}")
    if "\x00" in value:
        raise error(f"{what} must not contain NUL characters, got {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise error(f"{what} is not valid Unicode text (lone surrogate), got {value!r}") from None
    return value


def instant(value: object, what: str, *, error: type[RotaError] = ConfigError) -> datetime:
    """An aware datetime in ``[EARLIEST, LATEST)``, returned in UTC."""
    if not isinstance(value, datetime):
        raise error(f"{what} must be a datetime, got {_show(value)}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise error(f"{what} {value.isoformat()} has no time zone; pass an aware datetime")
    try:
        when = value.astimezone(UTC)
    except OverflowError:
        when = EARLIEST - timedelta(days=1) if value.year < 2000 else LATEST
    if not EARLIEST <= when < LATEST:
        raise error(
            f"{what} must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} UTC, "
            f"got {value.isoformat()}"
        )
    return when


def later(now: datetime, seconds: float, what: str) -> datetime:
    """``now + seconds``, refused when it leaves the range of instants."""
    try:
        when = now + timedelta(seconds=seconds)
    except OverflowError:
        when = LATEST
    if when >= LATEST:
        raise ConfigError(f"{what} of {seconds:g}s puts the job after {LATEST:%Y-%m-%d} UTC")
    return when


def _span(seconds: float) -> str:
    if seconds >= 86_400 * 365:
        return f"{seconds / 86_400 / 365.25:g} years ({seconds:.0f}s)"
    return f"{seconds:g}s"


def _short(value: int) -> str:
    # str() of an int over 4,300 digits raises ValueError: describe huge ones by size
    if value.bit_length() < 200:
        return str(value)
    return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"


def _show(value: object) -> str:
    """A short, safe rendering of a rejected value for a message (never a huge repr)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"int {_short(value)}"
    try:
        text = repr(value)
    except Exception:  # a repr that fails must not turn a clear refusal into a crash
        text = f"<{type(value).__name__}>"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
