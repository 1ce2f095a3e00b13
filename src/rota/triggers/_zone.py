"""UTC offset transitions of a zone, found by probing zoneinfo (which does not list them).

A transition is ``(instant, offset_before, offset_after)`` in POSIX seconds. Offsets are
probed once a day and each change is then pinned to the second by bisection. That finds
every transition as long as a zone never changes its offset and changes it back within one
day: the closest pair in the tz database (1900 onwards, checked over every zone when this
was written) is about four days apart (Africa/Freetown, 1939).
"""

from __future__ import annotations

import functools
from datetime import datetime
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
