"""Which days of a month the day-of-month and day-of-week fields select.

Every day token (plain days and weekdays, ``L``, ``L-n``, ``W``, ``nL``, ``n#k``) depends only
on the month's length and on the weekday of its 1st. So a spec's days are a table of 4 x 7
bit masks (lengths 28-31, the 1st on Monday-Sunday), computed once per spec: matching a day
is then one lookup, whatever tokens the expression uses, and "can this ever fire" is a look
at the few table entries its months can reach.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every month length that occurs, for each month (February: common and leap years).
MONTH_LENGTHS = ((), (31,), (28, 29), (31,), (30,), (31,), (30,), (31,), (31,), (30,), (31,), (30,), (31,))
_SATURDAY, _SUNDAY = 5, 6  # Monday = 0, as datetime.weekday() and calendar.monthrange()

DayMasks = tuple[tuple[int, ...], ...]  # masks[length - 28][weekday of the 1st], bit d = day d


@dataclass(frozen=True, slots=True)
class DayFields:
    """The parsed day fields. Weekdays count Sunday as 0, as cron does."""

    doms: frozenset[int]  # plain days of the month, 1-31
    dom_last: frozenset[int]  # L-n: n days before the last day (L is 0)
    dom_near: frozenset[int]  # NW: the weekday nearest to day N
    dom_near_last: frozenset[int]  # L-nW: the weekday nearest to L-n (LW is 0)
    dows: frozenset[int]  # plain weekdays, 0-6
    dow_last: frozenset[int]  # nL: the last weekday n of the month
    dow_nth: frozenset[tuple[int, int]]  # n#k: the k-th weekday n of the month
    both: bool  # a day must match both fields (one starts with ``*``), else either


def nearest_weekday(target: int, length: int, first: int) -> int | None:
    """The Monday-Friday day nearest to ``target``, never leaving the month (Quartz's W).

    A Saturday moves back to Friday unless it is the 1st (then on to Monday the 3rd); a
    Sunday moves on to Monday unless it is the last day (then back to Friday). A target the
    month does not have (31W in April, L-30W in February) selects nothing.
    """
    if not 1 <= target <= length:
        return None
    weekday = (first + target - 1) % 7
    if weekday == _SATURDAY:
        return target + 2 if target == 1 else target - 1
    if weekday == _SUNDAY:
        return target - 2 if target == length else target + 1
    return target


# _WEEKLY[r]: days r+1, r+8, ... of a month (bits up to day 31)
_WEEKLY = tuple(sum(1 << d for d in range(r + 1, 32, 7)) for r in range(7))


def _first_day_on(weekday: int, first: int) -> int:
    """The first day of the month on a cron weekday (Sunday = 0), the 1st on ``first``."""
    return (weekday - first - 1) % 7 + 1


def _dom_tokens(f: DayFields, length: int, first: int) -> int:
    mask = 0
    for n in f.dom_last:
        if n < length:
            mask |= 1 << (length - n)
    for target in (*f.dom_near, *(length - n for n in f.dom_near_last)):
        near = nearest_weekday(target, length, first)
        if near is not None:
            mask |= 1 << near
    return mask


def _dow_tokens(f: DayFields, length: int, first: int) -> int:
    mask = 0
    for weekday in f.dow_last:
        day = _first_day_on(weekday, first)
        mask |= 1 << (day + (length - day) // 7 * 7)
    for weekday, week in f.dow_nth:
        day = _first_day_on(weekday, first) + 7 * (week - 1)
        if day <= length:
            mask |= 1 << day
    return mask


def day_masks(f: DayFields) -> DayMasks:
    """The table of selected days for every month shape (see the module docstring)."""
    plain_dom = sum(1 << d for d in f.doms)
    plain_dow = [0] * 7  # by the weekday of the 1st
    for first in range(7):
        for weekday in f.dows:
            plain_dow[first] |= _WEEKLY[_first_day_on(weekday, first) - 1]
    table = []
    for length in range(28, 32):
        days = (2 << length) - 2  # bits 1..length
        row = []
        for first in range(7):
            dom = plain_dom | _dom_tokens(f, length, first)
            dow = plain_dow[first] | _dow_tokens(f, length, first)
            row.append((dom & dow if f.both else dom | dow) & days)
        table.append(tuple(row))
    return tuple(table)


def can_fire(masks: DayMasks, months: frozenset[int]) -> bool:
    """Whether some allowed month, in some year, has a selected day.

    Each month starts on every weekday in some year of the 400-year Gregorian cycle, and a
    leap February does too, so every (month, length, weekday of the 1st) occurs.
    """
    return any(any(masks[n - 28]) for m in months for n in MONTH_LENGTHS[m])
