"""Find the first wall-clock time at or after a given one that a cron spec matches.

Pure calendar arithmetic on naive wall times, with no time zone: ``_cron.py`` layers the DST
rules on top. The search jumps field by field (year, month, day, hour, minute, second), so
its cost does not depend on how far away the match is, only on how many months and days it
has to skip.
"""

from __future__ import annotations

import calendar
import functools
from datetime import datetime, timedelta

from rota.triggers._cron_parse import CronSpec

_NONE = 99  # "no allowed value at or after this one" in the lookup tables
WALL_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 - wall times are naive by design
ONE_SECOND = timedelta(seconds=1)
MAX_YEAR = 9998  # leave room below datetime.max for offsets and carries


def _next_table(allowed: frozenset[int], size: int) -> tuple[int, ...]:
    """table[v] = the smallest allowed value >= v, or _NONE; one entry past the end."""
    table = [_NONE] * (size + 1)
    nxt = _NONE
    for v in range(size - 1, -1, -1):
        if v in allowed:
            nxt = v
        table[v] = nxt
    return tuple(table)


def wall_seconds(dt: datetime) -> int:
    """Seconds from 1970-01-01 00:00 to the naive wall time ``dt`` (microseconds dropped)."""
    return (dt - WALL_EPOCH) // ONE_SECOND


def wall_datetime(seconds: int) -> datetime:
    return WALL_EPOCH + timedelta(seconds=seconds)


class Matcher:
    """Answers "first matching wall time at or after W, before a limit" for one spec."""

    __slots__ = ("_day_masks", "_hour", "_minute", "_month", "_second")

    def __init__(self, spec: CronSpec) -> None:
        self._second = _next_table(spec.seconds, 60)
        self._minute = _next_table(spec.minutes, 60)
        self._hour = _next_table(spec.hours, 24)
        self._month = _next_table(spec.months, 13)
        self._day_masks = spec.day_masks

    def _day_mask(self, year: int, month: int) -> int:
        """Bit d set when day d of the month matches the day fields (month not checked)."""
        first, ndays = calendar.monthrange(year, month)
        return self._day_masks[ndays - 28][first]

    def matches(self, wall: datetime) -> bool:
        """Whether the naive wall time (whole seconds) matches every field."""
        return (
            self._second[wall.second] == wall.second
            and self._minute[wall.minute] == wall.minute
            and self._hour[wall.hour] == wall.hour
            and self._month[wall.month] == wall.month
            and bool(self._day_mask(wall.year, wall.month) >> wall.day & 1)
        )

    def first_at_or_after(self, start: int, limit: int | None) -> int | None:
        """The first matching wall time ``w`` (in wall seconds) with ``start <= w < limit``.

        ``limit`` None means no limit short of year 9998; None is returned when nothing
        matches in range.
        """
        begin = wall_datetime(start)
        last_year = MAX_YEAR if limit is None else min(MAX_YEAR, wall_datetime(limit).year)
        found = self._search(begin, last_year)
        if found is None:
            return None
        w = wall_seconds(found)
        return w if limit is None or w < limit else None

    def _search(self, begin: datetime, last_year: int) -> datetime | None:
        y, mo, d = begin.year, begin.month, begin.day
        h, mi, s = begin.hour, begin.minute, begin.second
        months, hours, minutes, seconds = self._month, self._hour, self._minute, self._second
        while y <= last_year:
            m2 = months[mo]
            if m2 == _NONE:  # no allowed month left this year
                y, mo, d, h, mi, s = y + 1, 1, 1, 0, 0, 0
                continue
            if m2 != mo:
                mo, d, h, mi, s = m2, 1, 0, 0, 0
            days = self._day_mask(y, mo) >> d << d  # matching days from d on
            if not days:
                mo, d, h, mi, s = mo + 1, 1, 0, 0, 0
                if mo > 12:
                    y, mo = y + 1, 1
                continue
            d2 = (days & -days).bit_length() - 1
            if d2 != d:
                d, h, mi, s = d2, 0, 0, 0
            h2 = hours[h]
            if h2 == _NONE:
                d, h, mi, s = d + 1, 0, 0, 0  # d may pass month end: the day mask carries it
                continue
            if h2 != h:
                h, mi, s = h2, 0, 0
            mi2 = minutes[mi]
            if mi2 == _NONE:
                h, mi, s = h + 1, 0, 0  # h may reach 24: hours[24] is _NONE, carrying a day
                continue
            if mi2 != mi:
                mi, s = mi2, 0
            s2 = seconds[s]
            if s2 == _NONE:
                mi, s = mi + 1, 0
                continue
            return datetime(y, mo, d, h, mi, s2)  # noqa: DTZ001 - a wall time
        return None


@functools.lru_cache(maxsize=4096)
def matcher_for(spec: CronSpec) -> Matcher:
    """The matcher of a spec, shared by every trigger with the same expression."""
    return Matcher(spec)
