"""Parse a cron expression into the sets of values each field allows.

Syntax (Vixie cron, plus an optional leading seconds field and the Quartz/cronsim day
tokens)::

    [second] minute hour day-of-month month day-of-week

Each field is a comma-separated list of ``*``, ``N``, ``A-B``, with an optional ``/STEP``
(``*/5``, ``10-40/10``, ``7/15`` meaning ``7-59/15``). Months and weekdays accept English
three-letter names (``JAN``, ``MON``), case-insensitive; weekday 7 is Sunday like 0. The
day-of-month list may also hold ``L`` (last day), ``L-n`` (n days before it), ``NW`` (the
weekday nearest to day N), ``LW`` and ``L-nW``; the day-of-week list ``nL`` (the last
weekday n of the month) and ``n#k`` (its k-th, 1-5). The macros ``@yearly @annually
@monthly @weekly @daily @midnight @hourly`` stand for their five-field forms. Errors are
one-line ``InvalidTrigger`` messages naming the bad field, and an expression that can never
fire is an error too.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from rota._errors import InvalidTrigger
from rota.triggers._cron_days import DayFields, DayMasks, can_fire, day_masks

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MAX_LENGTH = 1000  # characters; the longest sensible expression (every value listed) is ~600

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTH_NAMES = {name: i + 1 for i, name in enumerate(_MONTHS)}
_DAY_NAMES = {name: i for i, name in enumerate(_DAYS)}
_MAX_DIGITS = 6  # any longer number is out of every field's range; int() is not asked

# The day tokens, upper-cased (no weekday name contains L, so an L in a weekday item is a token).
_DOM_TOKEN = re.compile(r"(?:L(?:-([0-9]+))?|([0-9]+))(W?)")
_DOW_TOKEN = re.compile(r"([0-9A-KM-Z]*)(?:L|#([0-9]+))")


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DOM = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTH_NAMES)
_DOW = _Field("day-of-week", 0, 7, _DAY_NAMES)  # 7 folds onto 0 after parsing


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A parsed expression: the allowed values of each field, and the days they select.

    ``dom_star``/``dow_star`` record whether the field's text starts with ``*``: when either
    does, a day must match both fields; when neither does, either field suffices (Vixie's OR
    rule). ``wildcard`` is true when the minute or hour field starts with ``*``.
    ``day_masks`` is the days both fields select, per month shape (see ``_cron_days``).
    """

    expr: str  # the normalized text: macros kept as written, fields single-spaced
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    days: DayFields
    day_masks: DayMasks
    dom_star: bool
    dow_star: bool
    wildcard: bool
    has_seconds: bool

    @property
    def doms(self) -> frozenset[int]:
        """The plain days of the month (without ``L`` and ``W`` items)."""
        return self.days.doms

    @property
    def dows(self) -> frozenset[int]:
        """The plain weekdays, 0 = Sunday (without ``nL`` and ``n#k`` items)."""
        return self.days.dows


def quoted(text: str, limit: int = 40) -> str:
    """``repr(text)`` for a one-line message, cut with its length noted when long."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def _fail(expr: str, why: str) -> InvalidTrigger:
    return InvalidTrigger(f"invalid cron expression {quoted(expr, 80)}: {why}")


def _number(text: str) -> int | None:
    """The value of ASCII digits (a huge one capped out of every range), else None."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    return int(text) if len(text) <= _MAX_DIGITS else 10**_MAX_DIGITS


def _value(expr: str, field: _Field, text: str) -> int:
    if field.names is not None and text.upper() in field.names:
        return field.names[text.upper()]
    value = _number(text)
    if value is None:
        if field.names is not None and text.isalpha():
            raise _fail(expr, f"{field.name} name {quoted(text)} is not one of {', '.join(field.names)}")
        raise _fail(expr, f"{field.name} value {quoted(text)} is not a number")
    if not field.low <= value <= field.high:
        shown = value if len(text) <= _MAX_DIGITS else quoted(text, 12)
        raise _fail(expr, f"{field.name} {shown} out of range {field.low}-{field.high}")
    return value


def _step(expr: str, field: _Field, text: str) -> int:
    step = _number(text)
    if step is None or step == 0:
        raise _fail(expr, f"{field.name} step {quoted(text)} must be a positive number")
    span = field.high - field.low + 1
    if step > span:
        shown = step if len(text) <= _MAX_DIGITS else quoted(text, 12)
        raise _fail(expr, f"{field.name} step {shown} out of range 1-{span}")
    return step


def _items(expr: str, field: _Field, text: str) -> list[str]:
    items = text.split(",")
    if not all(items):
        raise _fail(expr, f"{field.name} field {quoted(text)} has an empty list item")
    return items


def _item_values(expr: str, field: _Field, item: str) -> range:
    """The values of one ``*``, ``N``, ``A-B`` item with an optional ``/STEP``."""
    base, slash, step_text = item.partition("/")
    step = _step(expr, field, step_text) if slash else 1
    if base == "*":
        low, high = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _value(expr, field, first), _value(expr, field, last)
        if low > high:
            raise _fail(expr, f"{field.name} range {quoted(base)} runs backwards")
    else:
        low = _value(expr, field, base)
        high = field.high if slash else low  # "7/15" means "7-max/15", as in cronie
    return range(low, high + 1, step)


def _parse_field(expr: str, field: _Field, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in _items(expr, field, text):
        values.update(_item_values(expr, field, item))
    return frozenset(values)


def _parse_dom(expr: str, text: str) -> tuple[frozenset[int], ...]:
    """Plain days, ``L-n`` offsets, ``NW`` days and ``L-nW`` offsets (``L`` is ``L-0``)."""
    plain: set[int] = set()
    last: set[int] = set()
    near: set[int] = set()
    near_last: set[int] = set()
    for item in _items(expr, _DOM, text):
        upper = item.upper()
        if "L" not in upper and "W" not in upper:
            plain.update(_item_values(expr, _DOM, item))
            continue
        match = _DOM_TOKEN.fullmatch(upper)
        if match is None:
            raise _fail(
                expr,
                f"day-of-month item {quoted(item, 20)} is not valid: L and W come as L, L-n, LW, "
                "L-nW or NW (n and N numbers), with no range or step",
            )
        offset_text, day_text, weekday = match.groups()
        if day_text is not None:
            near.add(_value(expr, _DOM, day_text))
            continue
        offset = 0 if offset_text is None else _number(offset_text)
        if offset is None or offset > 30:
            raise _fail(expr, f"day-of-month {quoted(item, 20)}: the offset n in L-n must be 0-30")
        (near_last if weekday else last).add(offset)
    return frozenset(plain), frozenset(last), frozenset(near), frozenset(near_last)


def _parse_dow(expr: str, text: str) -> tuple[frozenset[int], frozenset[int], frozenset[tuple[int, int]]]:
    """Plain weekdays, ``nL`` weekdays and ``n#k`` pairs, all with Sunday as 0."""
    plain: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in _items(expr, _DOW, text):
        upper = item.upper()
        if "L" not in upper and "#" not in upper:
            plain.update(_item_values(expr, _DOW, item))
            continue
        match = _DOW_TOKEN.fullmatch(upper)
        if match is None or not match.group(1):
            raise _fail(
                expr,
                f"day-of-week item {quoted(item, 20)} is not valid: L and # come as nL (the last "
                "weekday n of the month: 5L, FRIL) or n#k (the k-th: MON#2), with no range or step",
            )
        weekday = _value(expr, _DOW, match.group(1)) % 7
        week_text = match.group(2)
        if week_text is None:
            last.add(weekday)
            continue
        week = _number(week_text)
        if week is None or not 1 <= week <= 5:
            raise _fail(expr, f"day-of-week {quoted(item, 20)}: the week k in n#k must be 1-5")
        nth.add((weekday, week))
    return frozenset(v % 7 for v in plain), frozenset(last), frozenset(nth)


def parse(expr: str) -> CronSpec:
    """Parse ``expr``; raise ``InvalidTrigger`` when it is malformed or can never fire."""
    if not isinstance(expr, str):
        raise InvalidTrigger(f"cron expression must be a string, got {type(expr).__name__}")
    if len(expr) > MAX_LENGTH:
        raise _fail(expr, f"longer than {MAX_LENGTH} characters")
    if "\x00" in expr:
        raise _fail(expr, "contains a NUL character")
    return _parse(" ".join(expr.split()))


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> CronSpec:
    # Cached: specs are immutable, and many schedules share a handful of expressions.
    if text.startswith("@"):
        fields_text = MACROS.get(text.lower())
        if fields_text is None:
            raise _fail(text, f"unknown macro {quoted(text)}; use one of {', '.join(MACROS)}")
        parts = fields_text.split()
    else:
        parts = text.split()
    if len(parts) not in (5, 6):
        raise _fail(text, f"expected 5 or 6 fields, got {len(parts)}")
    has_seconds = len(parts) == 6
    if not has_seconds:
        parts = ["0", *parts]
    sec, minute, hour, dom, month, dow = parts
    seconds = _parse_field(text, _SECOND, sec)
    minutes = _parse_field(text, _MINUTE, minute)
    hours = _parse_field(text, _HOUR, hour)
    doms, dom_last, dom_near, dom_near_last = _parse_dom(text, dom)
    months = _parse_field(text, _MONTH, month)
    dows, dow_last, dow_nth = _parse_dow(text, dow)
    dom_star, dow_star = dom.startswith("*"), dow.startswith("*")
    days = DayFields(
        doms=doms, dom_last=dom_last, dom_near=dom_near, dom_near_last=dom_near_last,
        dows=dows, dow_last=dow_last, dow_nth=dow_nth, both=dom_star or dow_star,
    )  # fmt: skip
    masks = day_masks(days)
    if not can_fire(masks, months):
        raise _fail(text, "no allowed month has a day the day fields select, so it can never fire")
    return CronSpec(
        expr=text, seconds=seconds, minutes=minutes, hours=hours, months=months, days=days,
        day_masks=masks, dom_star=dom_star, dow_star=dow_star,
        wildcard=minute.startswith("*") or hour.startswith("*"), has_seconds=has_seconds,
    )  # fmt: skip
