"""UTC offset transitions of a zone, found by probing zoneinfo (which does not list them).

A transition is ``(instant, offset_before, offset_after)`` in POSIX seconds. Offsets are
probed once a day and each change is then pinned to the second by bisection. That finds
every transition as long as a zone never changes its offset and changes it back within one
day: the closest pair in the tz database (1900 onwards, checked over every zone when this
was written) is about four days apart (Africa/Freetown, 1939).
"""

from __future__ import annotations

import bisect
import functools
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

_DAY = 86_400
Transition = tuple[int, int, int]


def offset_at(tz: ZoneInfo, instant: int) -> int:
    """The zone's UTC offset, in seconds, at the POSIX instant."""
    off = datetime.fromtimestamp(instant, tz).utcoffset()
    assert off is not None  # a ZoneInfo always has an offset
    return off.days * _DAY + off.seconds


def _leap_days_through(year: int) -> int:
    return year // 4 - year // 100 + year // 400


def year_start(year: int) -> int:
    """POSIX seconds at 1 January of ``year``, 00:00 UTC (any year, even past 9999)."""
    days = 365 * (year - 1970) + _leap_days_through(year - 1) - _leap_days_through(1969)
    return days * _DAY


@functools.lru_cache(maxsize=8192)
def transitions(tz: ZoneInfo, year: int) -> tuple[Transition, ...]:
    """Every offset change whose UTC instant falls in the given UTC year, in order."""
    begin, end = year_start(year), year_start(year + 1)
    found: list[Transition] = []
    t, off = begin, offset_at(tz, begin)
    while t < end:
        probe = min(t + _DAY, end)
        probe_off = offset_at(tz, probe)
        if probe_off != off:
            found.extend(_bisect(tz, t, probe, off, probe_off))
        t, off = probe, probe_off
    # A change exactly at ``end`` belongs to next year; ``_bisect`` may have recorded it.
    return tuple(tr for tr in found if begin <= tr[0] < end)


def _bisect(tz: ZoneInfo, lo: int, hi: int, off_lo: int, off_hi: int) -> list[Transition]:
    """The changes in (lo, hi], knowing offset(lo) = off_lo != off_hi = offset(hi)."""
    out: list[Transition] = []
    while hi - lo > 1:
        mid = (lo + hi) // 2
        off_mid = offset_at(tz, mid)
        if off_mid == off_lo:
            lo = mid
        else:
            # Two changes inside one probe step: the right part may hold another one.
            if off_mid != off_hi:
                out.extend(_bisect(tz, mid, hi, off_mid, off_hi))
            hi, off_hi = mid, off_mid
    out.append((hi, off_lo, off_hi))
    return sorted(out)


class _Window:
    """The transitions of a run of years, flattened for one bisect per lookup."""

    __slots__ = ("after", "before", "begin", "end", "first_offset", "instants")

    def __init__(self, tz: ZoneInfo, first_year: int, last_year: int) -> None:
        self.begin = year_start(first_year)
        self.end = year_start(last_year + 1)
        self.first_offset = offset_at(tz, self.begin)
        trs = [tr for y in range(first_year, last_year + 1) for tr in transitions(tz, y)]
        self.instants = [tr[0] for tr in trs]
        self.before = [tr[1] for tr in trs]
        self.after = [tr[2] for tr in trs]


class Segment(NamedTuple):
    """A stretch of constant offset ``[start, end)``, with the offsets on either side.

    ``start`` and ``end`` may be window edges rather than transitions; there the offset on
    the other side equals ``offset``, so no DST rule applies.
    """

    start: int
    offset_before: int
    offset: int
    end: int
    offset_after: int


class ZoneIndex:
    """Answers "which constant-offset segment holds this instant" for one zone.

    Keeps one window of years around the last instant asked about and moves it when an
    instant falls outside. Windows are immutable and swapped whole, so concurrent readers
    see either the old or the new one.
    """

    __slots__ = ("_tz", "_window")

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self._window: _Window | None = None

    def segment(self, t: int, *, lo_year: int, hi_year: int) -> Segment:
        window = self._window
        if window is None or not window.begin <= t < window.end:
            year = year_of(t)
            window = _Window(self._tz, max(year - 1, lo_year), min(year + 3, hi_year))
            self._window = window
        i = bisect.bisect_right(window.instants, t)
        if i:
            start, before, off = window.instants[i - 1], window.before[i - 1], window.after[i - 1]
        else:
            start, before, off = window.begin, window.first_offset, window.first_offset
        if i < len(window.instants):
            return Segment(start, before, off, window.instants[i], window.after[i])
        return Segment(start, before, off, window.end, off)


_INDEXES: dict[str, ZoneIndex] = {}


def zone_index(tz: ZoneInfo) -> ZoneIndex:
    """The shared index of a zone (one per zone key, created on first use)."""
    key = tz.key or repr(tz)
    index = _INDEXES.get(key)
    if index is None:
        index = _INDEXES.setdefault(key, ZoneIndex(tz))
    return index


def year_of(instant: int) -> int:
    """The UTC year of a POSIX instant (integer arithmetic, any year)."""
    year = 1970 + instant // 31_556_952  # mean Gregorian year; off by at most one
    if year_start(year) > instant:
        return year - 1
    if year_start(year + 1) <= instant:
        return year + 1
    return year
