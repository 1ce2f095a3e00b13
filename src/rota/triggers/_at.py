"""The one-time trigger."""

from __future__ import annotations

import json
from datetime import datetime

from rota import _limits
from rota._errors import InvalidTrigger
from rota.triggers._base import aware_utc


class At:
    """Fires once, at ``when``.

    ``first_fire(now)`` returns ``when`` even when it is already past: a one-time schedule
    created late (or restored after an outage) is handed to the scheduler's misfire policy
    instead of vanishing. ``next_fire(after)`` is ``when`` only while ``after < when``, so
    once the fire is committed the schedule is done (None). ``when`` must lie in the range
    every store can hold (1970-01-01 to before 9999-01-01 UTC); a later one could never fire.
    """

    __slots__ = ("_when",)
    _when: datetime

    def __init__(self, when: datetime) -> None:
        aware_utc(when, "one-time trigger instant")  # its messages for a non-datetime or naive one
        when = _limits.instant(when, "one-time trigger instant", error=InvalidTrigger)
        object.__setattr__(self, "_when", when)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("At is immutable")

    @property
    def when(self) -> datetime:
        return self._when

    def __repr__(self) -> str:
        return f"At({self._when.isoformat()})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, At):
            return NotImplemented
        return self._when == other._when

    def __hash__(self) -> int:
        return hash(self._when)

    def describe(self) -> str:
        return f"once at {self._when.isoformat()}"

    def dumps(self) -> str:
        return json.dumps({"at": self._when.isoformat()}, separators=(",", ":"))

    def first_fire(self, now: datetime) -> datetime | None:
        aware_utc(now, "now")
        return self._when

    def next_fire(self, after: datetime) -> datetime | None:
        return self._when if aware_utc(after, "after") < self._when else None
