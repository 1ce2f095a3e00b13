"""The cron trigger: wall-clock matching in a time zone, with Vixie cron's DST rules.

Time is walked in segments of constant UTC offset. Inside a segment wall time moves in step
with real time, so the next fire is the matcher's next wall time minus the offset. At the
boundary between segments (an offset change of ``d``):

* ``0 < d < 3h`` (clock forward): a fixed-time schedule that matches a skipped wall time
  fires once, at the transition instant; a wildcard schedule skips them.
* ``-3h < d < 0`` (clock back): the wall times ``d`` just before the new offset's start
  repeat; a fixed-time schedule does not fire on them again, a wildcard one does.
* ``|d| >= 3h`` (e.g. a zone crossing the date line): skipped wall times never fire, and
  repeated ones fire again for every schedule (Vixie's "time changed a lot" case).
"""

from __future__ import annotations

import bisect
import json
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rota._errors import InvalidTrigger
from rota.triggers._base import aware_utc, from_posix, to_posix
from rota.triggers._cron_match import MAX_YEAR, Matcher
from rota.triggers._cron_parse import CronSpec, parse
from rota.triggers._zone import offset_at, transitions, year_start

SMALL_JUMP = 3 * 3600  # seconds; Vixie cron and cronie treat shorter changes as DST
_LOOKAHEAD_YEARS = 3  # a segment ends at the next transition or this far ahead
_MAX_POSIX = year_start(MAX_YEAR)
_MIN_POSIX = year_start(3)


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        if tz.key is None:
            raise InvalidTrigger("time zone must be a named zone (ZoneInfo(key)), not a file")
        return tz
    if not isinstance(tz, str):
        raise InvalidTrigger(f"time zone must be a name or ZoneInfo, got {type(tz).__name__}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTrigger(f"unknown time zone {tz!r}") from None


def _year_of(instant: int) -> int:
    return from_posix(instant).year


class Cron:
    """Fires at the wall-clock times a cron expression matches, in one time zone."""

    __slots__ = ("_matcher", "_spec", "_tz")

    def __init__(self, expr: str, tz: str | ZoneInfo = "UTC") -> None:
        self._spec: CronSpec = parse(expr)
        self._tz: ZoneInfo = _zone(tz)
        self._matcher = Matcher(self._spec)

    @property
    def expr(self) -> str:
        return self._spec.expr

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @property
    def spec(self) -> CronSpec:
        return self._spec

    @property
    def is_wildcard(self) -> bool:
        """True when the minute or hour field starts with ``*``; false for fixed-time."""
        return self._spec.wildcard

    def __repr__(self) -> str:
        return f"Cron({self.expr!r}, tz={self._tz.key!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cron):
            return NotImplemented
        return self.expr == other.expr and self._tz.key == other._tz.key

    def __hash__(self) -> int:
        return hash((self.expr, self._tz.key))

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "_matcher"):
            raise AttributeError("Cron is immutable")
        object.__setattr__(self, name, value)

    def describe(self) -> str:
        kind = "wildcard" if self.is_wildcard else "fixed-time"
        return f"cron '{self.expr}' in {self._tz.key} ({kind})"

    def dumps(self) -> str:
        return json.dumps({"cron": self.expr, "tz": self._tz.key}, separators=(",", ":"))

    def first_fire(self, now: datetime) -> datetime | None:
        return self.next_fire(now)

    def next_fire(self, after: datetime) -> datetime | None:
        seconds, _micros = to_posix(aware_utc(after, "after"))
        t = seconds + 1  # first candidate instant: fires are whole seconds, strictly after
        t = max(t, _MIN_POSIX)  # zone lookups a day around t must stay inside datetime's range
        fixed = not self._spec.wildcard
        tz, matcher = self._tz, self._matcher
        if fixed and self._skipped_fire_at(t):
            return from_posix(t)
        while t < _MAX_POSIX:
            off = offset_at(tz, t)
            start = t + off
            if fixed:
                # Wall times repeated after a small backward jump already fired.
                start = max(start, self._repeat_end(t, off))
            end, off_next = self._segment_end(t, off)
            w = matcher.first_at_or_after(start, end + off)
            if w is not None:
                return from_posix(w - off)
            jump = off_next - off
            if fixed and 0 < jump < SMALL_JUMP:
                skipped = matcher.first_at_or_after(end + off, end + off_next)
                if skipped is not None:
                    return from_posix(end)
            t = end
        return None

    def _segment_end(self, t: int, off: int) -> tuple[int, int]:
        """The next transition after ``t`` and the offset after it (or a horizon, no change)."""
        year = _year_of(t)
        for y in range(year, min(year + _LOOKAHEAD_YEARS, MAX_YEAR)):
            trs = transitions(self._tz, y)
            i = bisect.bisect_right(trs, (t, 1 << 62, 1 << 62))
            if i < len(trs):
                return trs[i][0], trs[i][2]
        return min(year_start(year + _LOOKAHEAD_YEARS), _MAX_POSIX), off

    def _skipped_fire_at(self, t: int) -> bool:
        """Whether a forward jump happens exactly at ``t`` over wall times this spec matches.

        The loop below checks each transition it walks past; this covers the one case it
        cannot see, a transition at the very first candidate instant.
        """
        trs = transitions(self._tz, _year_of(t))
        i = bisect.bisect_left(trs, (t, -(1 << 62), -(1 << 62)))
        if i == len(trs) or trs[i][0] != t:
            return False
        _, before, after = trs[i]
        if not 0 < after - before < SMALL_JUMP:
            return False
        return self._matcher.first_at_or_after(t + before, t + after) is not None

    def _repeat_end(self, t: int, off: int) -> int:
        """The wall time up to which ``t``'s wall clock repeats times already passed.

        After a backward jump of less than 3 hours at instant T from offset o1, wall times
        below ``T + o1`` were already lived through; anything else returns ``t + off``.
        """
        for y in sorted({_year_of(t - SMALL_JUMP), _year_of(t)}):
            for when, before, after in transitions(self._tz, y):
                if t - SMALL_JUMP < when <= t and -SMALL_JUMP < after - before < 0:
                    return when + before
        return t + off
