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

import json
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rota._errors import InvalidTrigger
from rota.triggers._base import aware_utc, from_posix, to_posix
from rota.triggers._cron_match import MAX_YEAR, matcher_for
from rota.triggers._cron_parse import CronSpec, parse, quoted
from rota.triggers._zone import year_start, zone_index

SMALL_JUMP = 3 * 3600  # seconds; Vixie cron and cronie treat shorter changes as DST
_MIN_YEAR = 3
_MAX_POSIX = year_start(MAX_YEAR)
_MIN_POSIX = year_start(_MIN_YEAR)


def _fire(instant: int) -> datetime | None:
    # Fires from year 9998 on are not returned: "never" is near enough, and it keeps every
    # later computation (offsets, wall times) inside datetime's range.
    return from_posix(instant) if instant < _MAX_POSIX else None


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        if tz.key is None:
            raise InvalidTrigger("time zone must be a named zone (ZoneInfo(key)), not a file")
        return tz
    if not isinstance(tz, str):
        raise InvalidTrigger(f"time zone must be a name or ZoneInfo, got {type(tz).__name__}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. a name too long for a path
        raise InvalidTrigger(f"unknown time zone {quoted(tz)}") from None


class Cron:
    """Fires at the wall-clock times a cron expression matches, in one time zone."""

    __slots__ = ("_index", "_matcher", "_spec", "_tz")

    def __init__(self, expr: str, tz: str | ZoneInfo = "UTC") -> None:
        self._spec: CronSpec = parse(expr)
        self._tz: ZoneInfo = _zone(tz)
        self._index = zone_index(self._tz)
        self._matcher = matcher_for(self._spec)

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
        t = max(t, _MIN_POSIX)  # zone lookups around t must stay inside datetime's range
        fixed = not self._spec.wildcard
        index, matcher = self._index, self._matcher
        seg = index.segment(t, lo_year=_MIN_YEAR, hi_year=MAX_YEAR)
        # A forward jump at the very first candidate instant: the loop below only sees the
        # jumps at the end of each segment it walks through.
        if fixed and seg.start == t and self._skips_a_match(seg.start, seg.offset_before, seg.offset):
            return _fire(t)
        while True:
            off = seg.offset
            start = t + off
            if fixed and -SMALL_JUMP < seg.offset - seg.offset_before < 0:
                # Wall times below the old offset's last one were lived through already.
                start = max(start, seg.start + seg.offset_before)
            w = matcher.first_at_or_after(start, seg.end + off)
            if w is not None:
                return _fire(w - off)
            if fixed and self._skips_a_match(seg.end, off, seg.offset_after):
                return _fire(seg.end)
            t = seg.end
            if t >= _MAX_POSIX:
                return None
            seg = index.segment(t, lo_year=_MIN_YEAR, hi_year=MAX_YEAR)

    def _skips_a_match(self, instant: int, before: int, after: int) -> bool:
        """Whether a small forward jump at ``instant`` skips a wall time this spec matches."""
        if not 0 < after - before < SMALL_JUMP:
            return False
        return self._matcher.first_at_or_after(instant + before, instant + after) is not None
