"""Property tests of ``Cron.next_fire`` against a brute-force reference.

The reference walks real time minute by minute (second by second for six-field
expressions) over a window, reads the wall clock with zoneinfo, and decides each instant
with a matcher written here from the generated value sets, independent of the parser:

* an instant fires when its wall time matches, unless the schedule is fixed-time and the
  wall time is a repeat (``fold=1``) after a backward jump of less than 3 h;
* the first instant after a forward jump of less than 3 h also fires, for a fixed-time
  schedule, when any skipped wall time matches.

``next_fire`` iterated from the window start must give exactly that list: fires strictly
increase, each one is allowed by the rules, and none is skipped.

The day fields include the Quartz/cronsim tokens (``L``, ``L-n``, ``LW``, ``L-nW``, ``NW``,
``nL``, ``n#k``), which the reference decides from their definitions (the last day is the
day before the next month's 1st, the nearest weekday is the Monday-Friday day of the month
closest to the target, ...), not from the parser's tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rota._errors import InvalidTrigger
from rota.triggers import Cron

SMALL = timedelta(hours=3)

# Known offset changes (UTC), from the tz database, to centre windows on.
TRANSITIONS = {
    "Europe/London": ["2024-03-31 01:00", "2024-10-27 01:00"],
    "America/New_York": ["2024-03-10 07:00", "2024-11-03 06:00"],
    "Australia/Lord_Howe": ["2024-04-06 15:00", "2024-10-05 15:30"],
    "Pacific/Apia": ["2011-09-24 14:00", "2011-12-30 10:00", "2012-03-31 14:00"],
    "Antarctica/Casey": ["2009-10-17 18:00", "2010-03-04 15:00"],
    "Asia/Beirut": ["2024-03-30 22:00", "2024-10-26 21:00"],
    "UTC": ["2024-02-28 12:00"],
}


@dataclass(frozen=True)
class Field:
    values: frozenset[int]
    text: str
    star: bool
    tokens: tuple[str, ...] = ()  # day tokens in the list, as written (any case)


_WEEKDAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def _last_day(day: date) -> int:
    after = (day.replace(day=28) + timedelta(days=4)).replace(day=1)  # the next month's 1st
    return (after - timedelta(days=1)).day


def _nearest_weekday(target: int, day: date) -> int | None:
    """The Monday-Friday day of ``day``'s month closest to ``target`` (None: no such day)."""
    last = _last_day(day)
    if not 1 <= target <= last:
        return None
    workdays = [d for d in range(1, last + 1) if day.replace(day=d).weekday() < 5]
    return min(workdays, key=lambda d: abs(d - target))


def dom_token_matches(token: str, day: date) -> bool:
    token = token.upper()
    near = token.endswith("W")
    base = token.removesuffix("W")
    if base.startswith("L"):
        target = _last_day(day) - (int(base[2:]) if base.startswith("L-") else 0)
    else:
        target = int(base)
    if near:
        return _nearest_weekday(target, day) == day.day
    return target == day.day


def dow_token_matches(token: str, day: date) -> bool:
    token = token.upper()
    weekday_text, _, week = token.partition("#")
    weekday_text = weekday_text.removesuffix("L")
    named = weekday_text in _WEEKDAY_NAMES
    weekday = _WEEKDAY_NAMES.index(weekday_text) if named else int(weekday_text) % 7
    if (day.weekday() + 1) % 7 != weekday:
        return False
    if week:  # n#k: the k-th such weekday
        return sum(1 for d in range(1, day.day + 1) if day.replace(day=d).weekday() == day.weekday()) == int(
            week
        )
    return (day + timedelta(days=7)).month != day.month  # nL: none later this month


@dataclass(frozen=True)
class Expr:
    seconds: Field | None
    minute: Field
    hour: Field
    dom: Field
    month: Field
    dow: Field  # values use 0 = Sunday

    @property
    def text(self) -> str:
        fields = [self.minute, self.hour, self.dom, self.month, self.dow]
        if self.seconds is not None:
            fields.insert(0, self.seconds)
        return " ".join(f.text for f in fields)

    @property
    def can_fire(self) -> bool:
        """Whether some allowed month has a day the day fields select.

        2000-2027 is one 28-year cycle of the calendar (2000 is a leap year), so every
        month starts on every weekday in it, leap Februaries included.
        """
        for year in range(2000, 2028):
            for month in sorted(self.month.values):
                first = date(year, month, 1)
                for d in range(1, _last_day(first) + 1):
                    if self.day_matches(first.replace(day=d)):
                        return True
        return False

    def day_matches(self, day: date) -> bool:
        dom_ok = day.day in self.dom.values or any(dom_token_matches(t, day) for t in self.dom.tokens)
        dow_ok = (day.weekday() + 1) % 7 in self.dow.values or any(
            dow_token_matches(t, day) for t in self.dow.tokens
        )
        if self.dom.star or self.dow.star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    @property
    def wildcard(self) -> bool:
        return self.minute.star or self.hour.star

    def matches(self, wall: datetime) -> bool:
        second_ok = wall.second in self.seconds.values if self.seconds else wall.second == 0
        return (
            second_ok
            and wall.minute in self.minute.values
            and wall.hour in self.hour.values
            and wall.month in self.month.values
            and self.day_matches(wall.date())
        )


def _render(values: list[int]) -> str:
    """Values as a cron list, contiguous runs written as ranges."""
    parts: list[str] = []
    run = [values[0]]
    for v in values[1:]:
        if v == run[-1] + 1:
            run.append(v)
        else:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
            run = [v]
    parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


def field(
    low: int, high: int, *, star_weight: int = 1, list_weight: int = 1, near: tuple[int, ...] = ()
) -> st.SearchStrategy[Field]:
    """A field's values and text; ``near`` values are added to half the lists."""
    everything = Field(frozenset(range(low, high + 1)), "*", star=True)
    stepped = st.integers(2, max(2, (high - low) // 2)).map(
        lambda n: Field(frozenset(range(low, high + 1, n)), f"*/{n}", star=True)
    )
    pick = st.sets(st.integers(low, high), min_size=1, max_size=6)
    listed = st.tuples(pick, st.booleans()).map(lambda t: t[0] | set(near) if t[1] else t[0])
    as_list = listed.map(lambda v: Field(frozenset(v), _render(sorted(v)), star=False))
    forms = {"star": st.just(everything), "step": stepped, "list": as_list}
    kinds = ["star"] * star_weight + ["step"] + ["list"] * list_weight
    return st.sampled_from(kinds).flatmap(lambda kind: forms[kind])


def _case(text: str, lower: bool) -> str:
    return text.lower() if lower else text


_DOM_TOKENS = st.one_of(
    st.just("L"),
    st.integers(0, 30).map(lambda n: f"L-{n}"),
    st.just("LW"),
    st.integers(0, 30).map(lambda n: f"L-{n}W"),
    st.integers(1, 31).map(lambda n: f"{n}W"),
)
_DOW_TOKENS = st.tuples(
    st.sampled_from([*map(str, range(8)), *_WEEKDAY_NAMES]),
    st.one_of(st.just("L"), st.integers(1, 5).map(lambda k: f"#{k}")),
).map("".join)


def with_tokens(
    low: int, high: int, tokens: st.SearchStrategy[str], *, star_weight: int
) -> st.SearchStrategy[Field]:
    """A day field: plain (see ``field``) or a list that holds day tokens (3 in 5)."""
    listed = st.tuples(
        st.sets(st.integers(low, high), max_size=3),
        st.lists(tokens, min_size=1, max_size=3, unique=True),
        st.booleans(),
    ).map(
        lambda t: Field(
            frozenset(t[0]),
            ",".join([*([_render(sorted(t[0]))] if t[0] else []), *(_case(x, t[2]) for x in t[1])]),
            star=False,
            tokens=tuple(t[1]),
        )
    )
    plain = field(low, high, star_weight=star_weight)
    return st.sampled_from([True, True, True, False, False]).flatmap(lambda tok: listed if tok else plain)


@st.composite
def cases(draw: st.DrawFn, *, with_seconds: bool, length: timedelta) -> tuple[Expr, str, datetime]:
    """An expression, a zone and a window start, biased towards the zone's transition.

    The window (``length`` long) always contains a known offset change, and the generated
    hour and minute lists often include the wall times around it, so fixed-time schedules
    that meet skipped or repeated wall times come up often.
    """
    zone = draw(st.sampled_from(sorted(TRANSITIONS)))
    centre = datetime.fromisoformat(draw(st.sampled_from(TRANSITIONS[zone]))).replace(tzinfo=UTC)
    tz = ZoneInfo(zone)
    around = [(centre + timedelta(minutes=m)).astimezone(tz) for m in (-61, -31, -1, 0, 30)]
    # the edges of the wall times a forward jump skips (not instants, so computed)
    before = (centre - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None)
    after = centre.astimezone(tz).replace(tzinfo=None)
    around += [before + timedelta(minutes=1), after - timedelta(minutes=1)]
    hours = tuple(sorted({w.hour for w in around}))
    minutes = tuple(sorted({w.minute for w in around} | {0, 15, 30, 45}))
    expr = Expr(
        seconds=draw(field(0, 59, list_weight=2)) if with_seconds else None,
        minute=draw(field(0, 59, list_weight=3, near=minutes)),
        hour=draw(field(0, 23, list_weight=3, near=hours)),
        dom=draw(st.one_of(field(1, 31, star_weight=4), with_tokens(1, 31, _DOM_TOKENS, star_weight=4))),
        month=draw(field(1, 12, star_weight=6)),
        dow=draw(st.one_of(field(0, 6, star_weight=3), with_tokens(0, 6, _DOW_TOKENS, star_weight=3))),
    )
    span = int(length.total_seconds())
    shift = draw(st.integers(-span, 0))
    micro = draw(st.sampled_from([0, 0, 1, 999_999, 500_000]))
    return expr, zone, centre + timedelta(seconds=shift, microseconds=micro)


@st.composite
def expressions(draw: st.DrawFn, *, with_seconds: bool) -> Expr:
    return Expr(
        seconds=draw(field(0, 59)) if with_seconds else None,
        minute=draw(field(0, 59)),
        hour=draw(field(0, 23)),
        dom=draw(with_tokens(1, 31, _DOM_TOKENS, star_weight=3)),
        month=draw(field(1, 12, star_weight=4)),
        dow=draw(with_tokens(0, 6, _DOW_TOKENS, star_weight=2)),
    )


def reference_fires(expr: Expr, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every fire in (start, end], deciding each instant of the window in turn."""
    step = timedelta(seconds=1) if expr.seconds is not None else timedelta(minutes=1)
    first = start.replace(microsecond=0)
    if expr.seconds is None:
        first = first.replace(second=0)
    u = first + step
    # the wall time of the step before the first candidate, on the step grid: measured from
    # an unaligned start, a jump of exactly 3 h (Antarctica/Casey, 2009) looked 59 s shorter
    # and was taken for a small (DST) one
    prev_wall = first.astimezone(tz).replace(tzinfo=None)
    fires: list[datetime] = []
    while u <= end:
        local = u.astimezone(tz)
        wall = local.replace(tzinfo=None)
        fire = False
        if expr.matches(wall):
            repeat = local.fold == 1 and _jump_back(wall, tz) < SMALL
            fire = expr.wildcard or not repeat
        skipped = wall - prev_wall - step  # wall time the clock jumped over
        if not fire and not expr.wildcard and timedelta(0) < skipped < SMALL:
            w = _ceil(prev_wall + timedelta(microseconds=1), step)
            while w < wall and not fire:
                fire = expr.matches(w)
                w += step
        if fire:
            fires.append(u)
        prev_wall = wall
        u += step
    return fires


def _ceil(wall: datetime, step: timedelta) -> datetime:
    base = wall.replace(second=0, microsecond=0) if step.seconds == 60 else wall
    base = base.replace(microsecond=0)
    return base if base >= wall else base + step


def _jump_back(wall: datetime, tz: ZoneInfo) -> timedelta:
    first = wall.replace(tzinfo=tz, fold=0).utcoffset()
    second = wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert first is not None and second is not None
    return first - second


def fires_of(cron: Cron, start: datetime, end: datetime) -> list[datetime]:
    out: list[datetime] = []
    t = cron.next_fire(start)
    while t is not None and t <= end:
        assert not out or t > out[-1], "fires must strictly increase"
        out.append(t)
        t = cron.next_fire(t)
    return out


def make_cron(expr: Expr, zone: str) -> Cron:
    """The Cron for ``expr``; an expression that can never fire must be refused instead."""
    if not expr.can_fire:
        with pytest.raises(InvalidTrigger, match="can never fire"):
            Cron(expr.text, zone)
        assume(False)
    return Cron(expr.text, zone)


def _check(expr: Expr, zone: str, start: datetime, length: timedelta) -> None:
    tz = ZoneInfo(zone)
    cron = make_cron(expr, zone)
    assert cron.is_wildcard is expr.wildcard
    end = start + length
    expected = reference_fires(expr, tz, start, end)
    got = fires_of(cron, start, end)
    assert got == expected, f"{expr.text!r} in {zone} from {start}"
    # Every fire matches in its zone, or is the catch-up fire of a skipped fixed time.
    for fire in got:
        assert cron.next_fire(fire - timedelta(microseconds=1)) == fire
        assert cron.next_fire(fire - timedelta(seconds=1)) == fire
        wall = fire.astimezone(tz).replace(tzinfo=None)
        assert expr.matches(wall) or not expr.wildcard


FIVE = timedelta(hours=50)
SIX = timedelta(hours=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(with_seconds=False, length=FIVE))
def test_five_field_matches_brute_force(case: tuple[Expr, str, datetime]) -> None:
    expr, zone, start = case
    _check(expr, zone, start, FIVE)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(with_seconds=True, length=SIX))
def test_six_field_matches_brute_force(case: tuple[Expr, str, datetime]) -> None:
    expr, zone, start = case
    _check(expr, zone, start, SIX)


@settings(max_examples=200, deadline=None)
@given(
    expr=expressions(with_seconds=False),
    zone=st.sampled_from(sorted(TRANSITIONS)),
    after=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1)),
)
def test_next_fire_is_after_and_consistent(expr: Expr, zone: str, after: datetime) -> None:
    """Anywhere in time: the fire is strictly later, and asking from just before it finds it."""
    cron = make_cron(expr, zone)
    start = after.replace(tzinfo=UTC)
    fire = cron.next_fire(start)
    assert fire is not None  # an accepted expression fires again, within 400 years at most
    assert fire > start
    assert fire.tzinfo is UTC
    assert cron.next_fire(fire - timedelta(microseconds=1)) == fire
    nxt = cron.next_fire(fire)
    assert nxt is None or nxt > fire


@st.composite
def day_expressions(draw: st.DrawFn) -> Expr:
    """A fire time of day at noon, and day fields that often hold day tokens."""
    return Expr(
        seconds=None,
        minute=draw(st.integers(0, 59).map(lambda m: Field(frozenset({m}), str(m), star=False))),
        hour=Field(frozenset({12}), "12", star=False),
        dom=draw(with_tokens(1, 31, _DOM_TOKENS, star_weight=2)),
        month=draw(field(1, 12, star_weight=3)),
        dow=draw(with_tokens(0, 6, _DOW_TOKENS, star_weight=2)),
    )


@settings(max_examples=200, deadline=None)
@given(
    expr=day_expressions(),
    zone=st.sampled_from(["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe"]),
    first=st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 1, 1)),
)
def test_day_tokens_fire_on_exactly_the_selected_days(expr: Expr, zone: str, first: date) -> None:
    """Over 800 days, day by day: fires on every selected day at the schedule's time, and
    only then (noon is never a skipped or repeated wall time in these zones)."""
    (minute,) = expr.minute.values
    cron = make_cron(expr, zone)
    tz = ZoneInfo(zone)
    start = datetime(first.year, first.month, first.day, tzinfo=tz).astimezone(UTC)
    days = [first + timedelta(days=i) for i in range(800)]
    expected = [
        datetime(d.year, d.month, d.day, 12, minute, tzinfo=tz).astimezone(UTC)
        for d in days
        if d.month in expr.month.values and expr.day_matches(d)
    ]
    end = start + timedelta(days=800)
    assert fires_of(cron, start, end) == expected, expr.text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(with_seconds=False, length=FIVE))
def test_a_zero_seconds_field_changes_nothing(case: tuple[Expr, str, datetime]) -> None:
    """The six-field rule is the five-field rule: ``0 M H D M W`` fires when ``M H D M W``
    does, across every transition (so adding seconds never loses or doubles a daily run)."""
    expr, zone, start = case
    five = make_cron(expr, zone)
    six = Cron(f"0 {expr.text}", zone)
    assert six.is_wildcard is five.is_wildcard
    end = start + FIVE
    assert fires_of(six, start, end) == fires_of(five, start, end)
