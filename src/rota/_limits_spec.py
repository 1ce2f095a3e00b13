"""Rate and concurrency limits as a task declares them, checked once, and their key templates.

``@app.task(rate_limit="100/s", rate_key="{tenant}", concurrency_limit=5,
concurrency_key="{account_id}")``: this module turns those options into a ``TaskLimits``
(refusing nonsense with ``ConfigError`` at declaration) and, per job, into the values stored
with the job (``Job.concurrency_key`` ... ``Job.rate_period``), which the store enforces in
its claim (see ``Store.claim``). Pure: no I/O, no store.

Key templates (also the key of ``@app.task(lock=...)``) are ``str.format`` templates over the
payload's fields: ``"{account_id}"``, ``"tenant:{tenant}"``, ``"{payload}"`` (the whole
payload). A key is global: two tasks whose jobs carry the same concurrency key share its
slots, whatever their own limits (each job is held to its own). Without a template the key
is the task's name, so each task has its own limits.
"""

from __future__ import annotations

import math
import re
import string
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from rota import _limits
from rota._convert import parse_duration
from rota._errors import ConfigError, PayloadError

#: The most runs at once a concurrency limit may allow (more is "no limit": leave it off).
MAX_CONCURRENCY = 1_000_000
#: The most runs a rate limit may allow per period, and the highest rate (per second): a
#: token every microsecond, the finest step every store keeps a bucket's time in.
MAX_RATE_COUNT = 1_000_000_000
MAX_RATE_PER_SECOND = 1_000_000
#: A rate limit's period: from a millisecond to a week.
MIN_RATE_PERIOD = 0.001
MAX_RATE_PERIOD = 7 * 86_400.0

_UNITS = {
    "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
    "minutes": 60.0, "h": 3600.0, "hour": 3600.0, "hours": 3600.0, "d": 86_400.0, "day": 86_400.0,
    "days": 86_400.0,
}  # fmt: skip
_COUNT = re.compile(r"^\s*([0-9]+)\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` runs per ``period`` seconds, as a token bucket of ``count`` tokens
    refilled continuously (one token every ``period / count``)."""

    count: int
    period: float

    def __str__(self) -> str:
        return f"{self.count}/{self.period:g}s"


def parse_rate(value: object) -> Rate:
    """A rate limit from its text: ``"<count>/<period>"``, the period a unit (``s``, ``m``,
    ``h``, ``d``, or ``second``, ``minute``...) or a duration (``"10s"``, ``"1m30s"``,
    ``"500ms"``). ``ConfigError`` for anything else, a count of 0, a period outside
    ``[MIN_RATE_PERIOD, MAX_RATE_PERIOD]`` or a rate above ``MAX_RATE_PER_SECOND``."""
    if not isinstance(value, str):
        raise ConfigError(f"rate_limit must be text such as '100/s' or '10/m', got {_limits._show(value)}")
    count_text, slash, period_text = value.partition("/")
    match = _COUNT.match(count_text)
    if not slash or match is None:
        raise ConfigError(f"rate_limit must be '<count>/<period>' such as '100/s' or '10/m', got {value!r}")
    period_text = period_text.strip()
    period = _UNITS.get(period_text.lower())
    if period is None:
        period = parse_duration(f"rate_limit {value!r}: its period", period_text)
    count = int(match.group(1))  # digits only: no sign, no NaN, no fraction
    if not 1 <= count <= MAX_RATE_COUNT:
        raise ConfigError(
            f"rate_limit must allow from 1 to {MAX_RATE_COUNT:,} runs per period, got {value!r}"
        )
    if not MIN_RATE_PERIOD <= period <= MAX_RATE_PERIOD:
        raise ConfigError(f"rate_limit's period must be from 1ms to 7 days, got {value!r}")
    if count / period > MAX_RATE_PER_SECOND:
        raise ConfigError(f"rate_limit must be at most {MAX_RATE_PER_SECOND:,} per second, got {value!r}")
    return Rate(count, period)


def concurrency(value: object) -> int:
    """A concurrency limit: an ``int`` from 1 to ``MAX_CONCURRENCY`` (``ConfigError``)."""
    return _limits.integer(value, "concurrency_limit", minimum=1, maximum=MAX_CONCURRENCY)


# -- key templates ---------------------------------------------------------------------------


class KeyTemplate:
    """A key formatted from a payload's fields: ``"invoice:{customer_id}"``.

    Built at declaration: the template must be a name (see ``rota._limits.name``) whose
    replacement fields are plain field names (``{customer_id}``, optionally with a conversion
    or a format spec), and, when the payload type's fields are known (a dataclass, TypedDict,
    NamedTuple, pydantic model or msgspec Struct), fields of that type (or ``{payload}``, the
    whole payload). ``format`` raises ``PayloadError`` for a payload that lacks a field.
    """

    __slots__ = ("fields", "template", "what")

    def __init__(self, template: object, what: str, payload_type: object = None) -> None:
        self.what = what
        self.template = _limits.name(template, what)
        names: list[str] = []
        try:
            parsed = list(string.Formatter().parse(self.template))
        except ValueError as exc:
            raise ConfigError(f"{what} {self.template!r} is not a valid template: {exc}") from None
        for _, field, spec, _ in parsed:
            if field is None:
                continue
            if not field.isidentifier():
                raise ConfigError(
                    f"{what} {self.template!r} may only name payload fields such as {{account_id}}, "
                    f"got {{{field}}}"
                )
            if spec and "{" in spec:
                raise ConfigError(f"{what} {self.template!r}: a format spec cannot hold a field")
            names.append(field)
        self.fields = tuple(dict.fromkeys(names))
        known = type_fields(payload_type)
        if known is not None:
            missing = [f for f in self.fields if f not in known and f != "payload"]
            if missing:
                have = ", ".join(sorted(known)) or "none"
                raise ConfigError(
                    f"{what} {self.template!r} names {{{missing[0]}}}, which the payload type "
                    f"{getattr(payload_type, '__name__', payload_type)} does not have (fields: {have})"
                )

    def __repr__(self) -> str:
        return f"KeyTemplate({self.template!r})"

    def format(self, payload: object, task: str) -> str:
        """The key for one payload (``PayloadError`` when it cannot be formatted, is empty or
        is not a valid name)."""
        if not self.fields:
            return self.template
        values = _Fields(payload_fields(payload), task, self.template, self.what)
        try:
            key = string.Formatter().vformat(self.template, (), values)
        except PayloadError:
            raise
        except (IndexError, ValueError, AttributeError, TypeError, KeyError) as exc:
            raise PayloadError(
                f"{self.what} {self.template!r} of task {task!r} cannot be formatted: {exc}"
            ) from exc
        if not key:
            raise PayloadError(f"{self.what} {self.template!r} of task {task!r} is empty for this payload")
        return _limits.name(key, f"{self.what} {self.template!r} of task {task!r}", error=PayloadError)


class _Fields(Mapping[str, Any]):
    def __init__(self, values: Mapping[str, Any], task: str, template: str, what: str) -> None:
        self._values, self._task, self._template, self._what = values, task, template, what

    def __getitem__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            known = ", ".join(sorted(self._values))  # {payload} (the whole of it) is always there
            raise PayloadError(
                f"{self._what} {self._template!r} of task {self._task!r} names {{{key}}}, "
                f"which the payload does not have (fields: {known})"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def payload_fields(payload: Any) -> dict[str, Any]:
    """The named fields of a payload (dataclass, pydantic model, mapping, msgspec Struct,
    NamedTuple), plus ``payload`` for the whole of it."""
    if is_dataclass(payload) and not isinstance(payload, type):
        values = {f.name: getattr(payload, f.name) for f in fields(payload)}
    elif hasattr(payload, "model_dump") and hasattr(type(payload), "model_fields"):  # pydantic
        values = {name: getattr(payload, name) for name in type(payload).model_fields}
    elif isinstance(payload, Mapping):
        values = {str(k): v for k, v in payload.items()}
    elif hasattr(payload, "__struct_fields__"):  # msgspec Struct
        values = {name: getattr(payload, name) for name in payload.__struct_fields__}
    elif isinstance(payload, tuple) and hasattr(payload, "_fields"):  # NamedTuple
        values = dict(zip(payload._fields, payload, strict=True))
    else:
        values = {}
    values.setdefault("payload", payload)
    return values


def type_fields(tp: object) -> frozenset[str] | None:
    """The field names of a payload type, when they are known without a payload: a
    dataclass, TypedDict, NamedTuple, pydantic model or msgspec Struct; None otherwise."""
    if not isinstance(tp, type):
        return None
    if is_dataclass(tp):
        return frozenset(f.name for f in fields(tp))
    if typing.is_typeddict(tp):
        return frozenset(tp.__annotations__)
    if issubclass(tp, tuple) and hasattr(tp, "_fields"):
        return frozenset(tp._fields)
    model_fields = getattr(tp, "model_fields", None)
    if isinstance(model_fields, Mapping):
        return frozenset(model_fields)
    struct_fields = getattr(tp, "__struct_fields__", None)
    if isinstance(struct_fields, tuple):
        return frozenset(struct_fields)
    return None


# -- a task's limits ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobLimits:
    """The limit fields of one job, as the store keeps them (``Job.concurrency_key``...)."""

    concurrency_key: str | None = None
    concurrency_limit: int | None = None
    rate_key: str | None = None
    rate_limit: int | None = None
    rate_period: float | None = None


NO_LIMITS = JobLimits()


@dataclass(frozen=True, slots=True)
class TaskLimits:
    """A task's rate and concurrency limits (either may be None: no such limit)."""

    concurrency: int | None = None
    concurrency_key: KeyTemplate | None = None
    rate: Rate | None = None
    rate_key: KeyTemplate | None = None

    @classmethod
    def declare(
        cls,
        *,
        rate_limit: object = None,
        rate_key: object = None,
        concurrency_limit: object = None,
        concurrency_key: object = None,
        payload_type: object = None,
    ) -> TaskLimits:
        """The limits of ``@app.task(...)``'s options, each checked (``ConfigError``)."""
        if rate_key is not None and rate_limit is None:
            raise ConfigError("rate_key needs a rate_limit (the runs allowed per period for each key)")
        if concurrency_key is not None and concurrency_limit is None:
            raise ConfigError("concurrency_key needs a concurrency_limit (the runs allowed at once per key)")
        return cls(
            concurrency=None if concurrency_limit is None else concurrency(concurrency_limit),
            concurrency_key=None
            if concurrency_key is None
            else KeyTemplate(concurrency_key, "concurrency_key", payload_type),
            rate=None if rate_limit is None else parse_rate(rate_limit),
            rate_key=None if rate_key is None else KeyTemplate(rate_key, "rate_key", payload_type),
        )

    @property
    def any(self) -> bool:
        return self.concurrency is not None or self.rate is not None

    @property
    def templated(self) -> bool:
        """Whether a key is formatted from the payload (else every job has the same keys)."""
        return any(t is not None and t.fields for t in (self.concurrency_key, self.rate_key))

    def for_job(self, task: str, payload: object = None) -> JobLimits:
        """The limit fields of a job of ``task`` with ``payload`` (``PayloadError`` when a key
        cannot be formatted from it)."""
        if not self.any:
            return NO_LIMITS
        ckey = rkey = None
        if self.concurrency is not None:
            ckey = task if self.concurrency_key is None else self.concurrency_key.format(payload, task)
        if self.rate is not None:
            rkey = task if self.rate_key is None else self.rate_key.format(payload, task)
        return JobLimits(
            concurrency_key=ckey,
            concurrency_limit=self.concurrency,
            rate_key=rkey,
            rate_limit=None if self.rate is None else self.rate.count,
            rate_period=None if self.rate is None else self.rate.period,
        )


def check_job_limits(
    concurrency_key: object,
    concurrency_limit: object,
    rate_key: object,
    rate_limit: object,
    rate_period: object,
) -> str | None:
    """What is wrong with a job's limit fields as a store is given them, or None: a key goes
    with its limit (both or neither), limits in the ranges above."""
    if (concurrency_key is None) != (concurrency_limit is None):
        return "concurrency_key and concurrency_limit go together (both or neither)"
    if concurrency_key is not None and (type(concurrency_key) is not str or not concurrency_key):
        return f"concurrency_key must be non-empty text, got {concurrency_key!r}"
    if concurrency_limit is not None and not (
        type(concurrency_limit) is int and 1 <= concurrency_limit <= MAX_CONCURRENCY
    ):
        return f"concurrency_limit must be an int from 1 to {MAX_CONCURRENCY:,}, got {concurrency_limit!r}"
    if not (rate_key is None) == (rate_limit is None) == (rate_period is None):
        return "rate_key, rate_limit and rate_period go together (all or none)"
    if rate_key is not None and (type(rate_key) is not str or not rate_key):
        return f"rate_key must be non-empty text, got {rate_key!r}"
    if rate_limit is not None and not (type(rate_limit) is int and 1 <= rate_limit <= MAX_RATE_COUNT):
        return f"rate_limit must be an int from 1 to {MAX_RATE_COUNT:,}, got {rate_limit!r}"
    if rate_period is not None:
        if not _limits.is_number(rate_period) or not math.isfinite(rate_period):
            return f"rate_period must be a finite number of seconds, got {rate_period!r}"
        if not MIN_RATE_PERIOD <= rate_period <= MAX_RATE_PERIOD:
            return f"rate_period must be from {MIN_RATE_PERIOD}s to {MAX_RATE_PERIOD:g}s, got {rate_period!r}"
        assert isinstance(rate_limit, int)
        if rate_limit / rate_period > MAX_RATE_PER_SECOND:
            return f"a rate of {rate_limit}/{rate_period:g}s is over {MAX_RATE_PER_SECOND:,} per second"
    return None
