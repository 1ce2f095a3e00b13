"""Parse a cron expression into the sets of values each field allows.

Syntax (Vixie cron, plus an optional leading seconds field)::

    [second] minute hour day-of-month month day-of-week

Each field is a comma-separated list of ``*``, ``N``, ``A-B``, with an optional ``/STEP``
(``*/5``, ``10-40/10``, ``7/15`` meaning ``7-59/15``). Months and weekdays accept English
three-letter names (``JAN``, ``MON``), case-insensitive; weekday 7 is Sunday like 0. The
macros ``@yearly @annually @monthly @weekly @daily @midnight @hourly`` stand for their
five-field forms. Errors are one-line ``InvalidTrigger`` messages naming the bad field.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from rota._errors import InvalidTrigger

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTH_NAMES = {name: i + 1 for i, name in enumerate(_MONTHS)}
_DAY_NAMES = {name: i for i, name in enumerate(_DAYS)}
# The longest each month can be (February counts its leap day).
MONTH_MAX_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


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
    """A parsed expression: the allowed values of each field, and how days combine.

    ``dom_star``/``dow_star`` record whether the field's text starts with ``*``: when either
    does, a day must match both fields; when neither does, either field suffices (Vixie's OR
    rule). ``wildcard`` is true when the minute or hour field starts with ``*``.
    """

    expr: str  # the normalized text: macros kept as written, fields single-spaced
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    doms: frozenset[int]
    months: frozenset[int]
    dows: frozenset[int]  # 0 = Sunday
    dom_star: bool
    dow_star: bool
    wildcard: bool
    has_seconds: bool


def _fail(expr: str, why: str) -> InvalidTrigger:
    return InvalidTrigger(f"invalid cron expression {expr!r}: {why}")


def _value(expr: str, field: _Field, text: str) -> int:
    if field.names is not None and text.upper() in field.names:
        return field.names[text.upper()]
    if not text.isdigit() or not text.isascii():
        if field.names is not None and text.isalpha():
            raise _fail(expr, f"{field.name} name {text!r} is not one of {', '.join(field.names)}")
        raise _fail(expr, f"{field.name} value {text!r} is not a number")
    value = int(text)
    if not field.low <= value <= field.high:
        raise _fail(expr, f"{field.name} {value} out of range {field.low}-{field.high}")
    return value


def _parse_field(expr: str, field: _Field, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _fail(expr, f"{field.name} field {text!r} has an empty list item")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not step_text.isascii() or int(step_text) == 0:
                raise _fail(expr, f"{field.name} step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _value(expr, field, first), _value(expr, field, last)
            if low > high:
                raise _fail(expr, f"{field.name} range {base!r} runs backwards")
        else:
            low = _value(expr, field, base)
            high = field.high if slash else low  # "7/15" means "7-max/15", as in cronie
        values.update(range(low, high + 1, step))
    return frozenset(values)


def parse(expr: str) -> CronSpec:
    """Parse ``expr``; raise ``InvalidTrigger`` when it is malformed or can never fire."""
    if not isinstance(expr, str):
        raise InvalidTrigger(f"cron expression must be a string, got {type(expr).__name__}")
    return _parse(" ".join(expr.split()))


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> CronSpec:
    # Cached: specs are immutable, and many schedules share a handful of expressions.
    if text.startswith("@"):
        fields_text = MACROS.get(text.lower())
        if fields_text is None:
            raise _fail(text, f"unknown macro {text!r}; use one of {', '.join(MACROS)}")
        parts = fields_text.split()
    else:
        parts = text.split()
    if len(parts) not in (5, 6):
        raise _fail(text, f"expected 5 or 6 fields, got {len(parts)}")
    has_seconds = len(parts) == 6
    if not has_seconds:
        parts = ["0", *parts]
    sec, minute, hour, dom, month, dow = parts
    dows = _parse_field(text, _DOW, dow)
    if 7 in dows:
        dows = (dows - {7}) | {0}
    spec = CronSpec(
        expr=text,
        seconds=_parse_field(text, _SECOND, sec),
        minutes=_parse_field(text, _MINUTE, minute),
        hours=_parse_field(text, _HOUR, hour),
        doms=_parse_field(text, _DOM, dom),
        months=_parse_field(text, _MONTH, month),
        dows=dows,
        dom_star=dom.startswith("*"),
        dow_star=dow.startswith("*"),
        wildcard=minute.startswith("*") or hour.startswith("*"),
        has_seconds=has_seconds,
    )
    _check_can_fire(spec)
    return spec


def _check_can_fire(spec: CronSpec) -> None:
    # Under the OR rule any allowed weekday fires in every month. Under the AND rule a day
    # must exist in some allowed month; every real date (29 Feb included) falls on each
    # weekday in some year of the 400-year Gregorian cycle, so that suffices.
    if not (spec.dom_star or spec.dow_star):
        return
    if any(d <= MONTH_MAX_DAYS[m] for m in spec.months for d in spec.doms):
        return
    raise _fail(spec.expr, "no month has any of its days of the month, so it can never fire")
