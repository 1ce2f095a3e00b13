"""The interval trigger: fires at ``start + k * period``, so it never drifts with run time."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

from rota import _limits
from rota._errors import InvalidTrigger
from rota.triggers._base import UTC_EPOCH, aware_utc

_MICRO = timedelta(microseconds=1)
_MAX = datetime.max.replace(tzinfo=UTC_EPOCH.tzinfo) - timedelta(days=2)
#: The shortest period: a schedule fires at most ten times a second, so one schedule cannot
#: keep a scheduler busy in a loop of passes (each pass is a store round trip).
MIN_PERIOD = timedelta(milliseconds=100)
#: The longest period (the documented maximum of every duration): a longer one could push
#: the first fire past the last instant a store can hold, and never fire.
MAX_PERIOD = _limits.MAX_DURATION


def _number(value: object, name: str) -> float:
    if not _limits.is_number(value):
        raise InvalidTrigger(f"interval {name} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidTrigger(f"interval {name} must be finite, got {value!r}")
    if number < 0:
        raise InvalidTrigger(f"interval {name} must not be negative, got {value}")
    return number


def _as_delta(period: timedelta | float) -> timedelta:
    if isinstance(period, timedelta):
        return period
    seconds = _number(period, "period")
    if seconds > MAX_PERIOD.total_seconds():
        raise InvalidTrigger(f"interval period must be at most 100 years, got {seconds:g}s")
    return timedelta(seconds=seconds)


class Every:
    """Fires every ``period``, at ``start + k * period`` for k = 0, 1, 2, ...

    The period is elapsed time (a day is 86,400 s whatever DST does; use ``Cron`` for
    wall-clock times). ``start`` None means "not anchored yet": the scheduler may pin the
    grid with ``with_anchor(created_at)``; left unanchored, the grid is anchored at the
    Unix epoch, so every process computes the same fires (``every 5 minutes`` fires at
    :00, :05, ...).
    """

    __slots__ = ("_period", "_start")
    _period: timedelta
    _start: datetime | None

    def __init__(
        self,
        period: timedelta | float | None = None,
        /,
        *,
        seconds: float = 0,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
        weeks: float = 0,
        start: datetime | None = None,
    ) -> None:
        units = {
            "seconds": seconds, "minutes": minutes, "hours": hours, "days": days, "weeks": weeks
        }  # fmt: skip
        sizes = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86_400, "weeks": 604_800}
        total_s = sum(_number(v, k) * sizes[k] for k, v in units.items())
        if total_s > MAX_PERIOD.total_seconds():
            raise InvalidTrigger(f"interval period must be at most 100 years, got {total_s:g}s")
        total = timedelta(**{k: float(v) for k, v in units.items()})
        if period is not None:
            if total:
                raise InvalidTrigger("interval: give a period or keyword units, not both")
            total = _as_delta(period)
        if total < _MICRO:
            raise InvalidTrigger("interval period must be positive")
        if total < MIN_PERIOD:
            raise InvalidTrigger(f"interval period must be at least 100ms, got {total.total_seconds():g}s")
        if total > MAX_PERIOD:
            raise InvalidTrigger(f"interval period must be at most 100 years, got {total}")
        object.__setattr__(self, "_period", total)
        anchor = None
        if start is not None:
            aware_utc(start, "interval start")  # its messages for a non-datetime or naive one
            anchor = _limits.instant(start, "interval start", error=InvalidTrigger)
        object.__setattr__(self, "_start", anchor)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Every is immutable")

    @property
    def period(self) -> timedelta:
        return self._period

    @property
    def start(self) -> datetime | None:
        return self._start

    def with_anchor(self, start: datetime) -> Every:
        """This interval anchored at ``start`` (if it has no anchor yet; else itself)."""
        if self._start is not None:
            return self
        return Every(self._period, start=start)

    def __repr__(self) -> str:
        start = "None" if self._start is None else self._start.isoformat()
        return f"Every({self._period!r}, start={start})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Every):
            return NotImplemented
        return self._period == other._period and self._start == other._start

    def __hash__(self) -> int:
        return hash((self._period, self._start))

    def describe(self) -> str:
        text = f"every {_human(self._period)}"
        if self._start is not None:
            text += f" from {self._start.isoformat()}"
        return text

    def dumps(self) -> str:
        micros = self._period // _MICRO
        every: int | float = micros // 1_000_000 if micros % 1_000_000 == 0 else micros / 1e6
        start = None if self._start is None else self._start.isoformat()
        return json.dumps({"every": every, "start": start}, separators=(",", ":"))

    def first_fire(self, now: datetime) -> datetime | None:
        return self.next_fire(now)

    def next_fire(self, after: datetime) -> datetime | None:
        after = aware_utc(after, "after")
        anchor = UTC_EPOCH if self._start is None else self._start
        if after < anchor:
            return anchor
        # Integer microseconds: k * period stays exact however many periods have passed.
        k = (after - anchor) // self._period + 1
        if (_MAX - anchor) // self._period < k:
            return None
        return anchor + self._period * k


def _human(period: timedelta) -> str:
    total = period.total_seconds()
    for unit, size in (("week", 604_800), ("day", 86_400), ("hour", 3600), ("minute", 60)):
        if total >= size and total % size == 0:
            n = int(total // size)
            return f"{n} {unit}" + ("s" if n != 1 else "")
    return f"{total:g} second" + ("s" if total != 1 else "")
