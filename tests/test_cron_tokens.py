"""The day tokens (``L``, ``L-n``, ``LW``, ``L-nW``, ``NW``, ``nL``, ``n#k``): the days each
selects, written out by hand from the 2024 calendar, and the fires of generated expressions
compared with cronsim's (an independent implementation of the same conventions).

2024 for reference (a leap year; 1 January is a Monday)::

    Jan 1 Mon   Feb 1 Thu   Mar 1 Fri   Apr 1 Mon   May 1 Wed   Jun 1 Sat
    Jul 1 Mon   Aug 1 Thu   Sep 1 Sun   Oct 1 Tue   Nov 1 Fri   Dec 1 Sun
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cronsim import CronSim
from cronsim.cronsim import CronSimError
from hypothesis import event, given, settings
from hypothesis import strategies as st

from rota._errors import InvalidTrigger
from rota.triggers import Cron

N = None  # no such day that month
# (day-of-month field, day-of-week field, the days of each month of 2024 that fire)
DAYS_2024: list[tuple[str, str, list[int | None]]] = [
    ("L", "*", [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]),
    ("l", "*", [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]),
    ("L-3", "*", [28, 26, 28, 27, 28, 27, 28, 28, 27, 28, 27, 28]),
    ("L-30", "*", [1, N, 1, N, 1, N, 1, 1, N, 1, N, 1]),  # only 31-day months have a "L-30"
    ("LW", "*", [31, 29, 29, 30, 31, 28, 31, 30, 30, 31, 29, 31]),  # Mar 31 Sun, Aug 31 Sat
    ("L-1W", "*", [30, 28, 29, 29, 30, 28, 30, 30, 30, 30, 29, 30]),  # Sep 29 Sun -> Mon 30
    ("15W", "*", [15, 15, 15, 15, 15, 14, 15, 15, 16, 15, 15, 16]),  # Jun 15 Sat, Sep 15 Sun
    ("1W", "*", [1, 1, 1, 1, 1, 3, 1, 1, 2, 1, 1, 2]),  # Jun 1 Sat -> Mon 3: stays in June
    ("31W", "*", [31, N, 29, N, 31, N, 31, 30, N, 31, N, 31]),  # Mar 31 Sun -> Fri 29
    ("30w", "*", [30, N, 29, 30, 30, 28, 30, 30, 30, 30, 29, 30]),  # Jun 30 Sun and last
    ("*", "5L", [26, 23, 29, 26, 31, 28, 26, 30, 27, 25, 29, 27]),
    ("*", "FRIL", [26, 23, 29, 26, 31, 28, 26, 30, 27, 25, 29, 27]),
    ("*", "0L", [28, 25, 31, 28, 26, 30, 28, 25, 29, 27, 24, 29]),
    ("*", "7L", [28, 25, 31, 28, 26, 30, 28, 25, 29, 27, 24, 29]),  # 7 is Sunday too
    ("*", "sunl", [28, 25, 31, 28, 26, 30, 28, 25, 29, 27, 24, 29]),
    ("*", "MON#2", [8, 12, 11, 8, 13, 10, 8, 12, 9, 14, 11, 9]),
    ("*", "1#2", [8, 12, 11, 8, 13, 10, 8, 12, 9, 14, 11, 9]),
    ("*", "6#1", [6, 3, 2, 6, 4, 1, 6, 3, 7, 5, 2, 7]),
    ("*", "5#5", [N, N, 29, N, 31, N, N, 30, N, N, 29, N]),  # a fifth Friday: 4 months
    ("*/2", "5L", [N, 23, 29, N, 31, N, N, N, 27, 25, 29, 27]),  # AND: odd days only
]


def fires_in_2024(cron: Cron) -> list[datetime]:
    out: list[datetime] = []
    t = cron.next_fire(datetime(2023, 12, 31, 12, tzinfo=UTC))
    while t is not None and t.year == 2024:
        out.append(t)
        t = cron.next_fire(t)
    return out


@pytest.mark.parametrize(("dom", "dow", "days"), DAYS_2024, ids=[f"{d} {w}" for d, w, _ in DAYS_2024])
def test_each_token_selects_its_days(dom: str, dow: str, days: list[int | None]) -> None:
    expected = [datetime(2024, m, d, 9, 30, tzinfo=UTC) for m, d in enumerate(days, 1) if d is not None]
    assert fires_in_2024(Cron(f"30 9 {dom} * {dow}")) == expected


def test_last_day_and_offsets_in_a_common_february() -> None:
    start = datetime(2025, 2, 1, tzinfo=UTC)
    assert Cron("0 0 L * *").next_fire(start) == datetime(2025, 2, 28, tzinfo=UTC)
    assert Cron("0 0 L-3 * *").next_fire(start) == datetime(2025, 2, 25, tzinfo=UTC)
    assert Cron("0 0 L-28 2 *").next_fire(start) == datetime(2028, 2, 1, tzinfo=UTC)  # leap only
    assert Cron("0 0 * 2 5#5").next_fire(start) == datetime(2036, 2, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "march_2024"),
    [
        ("0 0 L * 5L", [29, 31]),  # neither starts with "*": the last day OR the last Friday
        ("0 0 15W * MON#1", [4, 15]),
        ("0 0 1,15W,L * *", [1, 15, 31]),  # lists mix plain days and tokens
        ("0 0 L-1,LW * *", [29, 30]),
        ("0 0 * * MON#1,FRI#3,6L", [4, 15, 30]),
        ("0 0 * * 1-2,5L", [4, 5, 11, 12, 18, 19, 25, 26, 29]),
        ("0 0 */2 * 0L", [31]),  # "*/2" starts with "*": the last Sunday, on an odd day
    ],
)
def test_tokens_combine_with_lists_and_the_or_rule(expr: str, march_2024: list[int]) -> None:
    fires = [t for t in fires_in_2024(Cron(expr)) if t.month == 3]
    assert [t.day for t in fires] == march_2024


# ---- cronsim as an oracle, in UTC (its DST handling differs by design: docs/schedules.md)

_NUMBER_DOW = st.integers(0, 7).map(str)
_NAMED_DOW = st.sampled_from(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])


def _plain(low: int, high: int) -> st.SearchStrategy[str]:
    single = st.integers(low, high).map(str)
    ranged = st.tuples(st.integers(low, high), st.integers(0, 6)).map(
        lambda t: f"{t[0]}-{min(high, t[0] + t[1])}"
    )
    stepped = st.integers(2, 5).map(lambda s: f"*/{s}")
    return st.one_of(single, ranged, stepped)


def _list(item: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(item, min_size=1, max_size=3).map(",".join)


# cronsim reads L and LW in the day of month, nL (numbers only) and n#k in the day of week
_CRONSIM_DOM = st.one_of(st.just("*"), _list(st.one_of(_plain(1, 31), st.sampled_from(["L", "LW"]))))
_CRONSIM_DOW = st.one_of(
    st.just("*"),
    _list(
        st.one_of(
            _plain(0, 7),
            _NUMBER_DOW.map(lambda d: f"{d}L"),
            st.tuples(st.one_of(_NUMBER_DOW, _NAMED_DOW), st.integers(1, 5)).map(lambda t: f"{t[0]}#{t[1]}"),
        )
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    minute=_list(_plain(0, 59)),
    hour=_list(_plain(0, 23)),
    dom=_CRONSIM_DOM,
    month=st.one_of(st.just("*"), _list(_plain(1, 12))),
    dow=_CRONSIM_DOW,
    after=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2080, 1, 1)),
)
def test_fires_agree_with_cronsim(
    minute: str, hour: str, dom: str, month: str, dow: str, after: datetime
) -> None:
    expr = f"{minute} {hour} {dom} {month} {dow}"
    start = after.replace(tzinfo=UTC)
    expected: list[datetime] | str
    try:
        theirs = CronSim(expr, start)
        expected = [next(theirs) for _ in range(8)]
    except CronSimError:  # e.g. "0 0 31 2 *": refused as impossible
        expected = "refused"
    except StopIteration:  # cronsim gives up after 50 years without a fire
        expected = "gave up"
    event(
        expected if isinstance(expected, str) else ("token" if any(c in dom + dow for c in "L#") else "plain")
    )
    if expected != "refused" and parse_or_none(expr) is None:
        assert expected == "gave up", expr  # refused by rota only: cronsim found no fire either
        return
    if expected == "refused":
        with pytest.raises(InvalidTrigger, match="can never fire"):
            Cron(expr)
        return
    cron = Cron(expr)
    got: list[datetime] = []
    t = start
    for _ in range(8):
        fire = cron.next_fire(t)
        assert fire is not None
        got.append(fire)
        t = fire
    if expected == "gave up":
        assert got[0] > start + timedelta(days=365 * 50), expr
    else:
        assert got == expected, expr


def parse_or_none(expr: str) -> Cron | None:
    try:
        return Cron(expr)
    except InvalidTrigger as exc:
        message = str(exc)
    assert "can never fire" in message, message
    return None


def test_the_oracle_is_exercised_on_tokens() -> None:
    """The comparison above would be weak if cronsim ignored a token; it does not."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert next(CronSim("0 0 LW * *", start)) == datetime(2024, 1, 31, tzinfo=UTC)
    assert next(CronSim("0 0 * * 5#5", start)) == datetime(2024, 3, 29, tzinfo=UTC)
    assert next(CronSim("0 0 * * 5L", start)) == datetime(2024, 1, 26, tzinfo=UTC)
    assert Cron("0 0 * * 5#5").next_fire(start) == datetime(2024, 3, 29, tzinfo=UTC)


def test_next_fire_is_found_from_just_before_each_fire() -> None:
    for expr in ("0 0 LW * *", "30 9 15W * *", "0 12 * * 5L", "0 0 * * MON#2", "0 0 L-2 * *"):
        cron = Cron(expr, "Europe/Berlin")
        for fire in fires_in_2024(cron):
            assert cron.next_fire(fire - timedelta(microseconds=1)) == fire
