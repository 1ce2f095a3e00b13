"""Cron parsing: every syntax form maps to the exact value sets, and bad input is refused
with a one-line message naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from rota._errors import InvalidTrigger
from rota.triggers import Cron
from rota.triggers._cron_parse import parse


def test_five_fields_default_seconds_to_zero() -> None:
    spec = parse("5 4 3 2 1")
    assert spec.seconds == {0}
    assert spec.minutes == {5}
    assert spec.hours == {4}
    assert spec.doms == {3}
    assert spec.months == {2}
    assert spec.dows == {1}
    assert not spec.has_seconds


def test_leading_seconds_field() -> None:
    spec = parse("*/20 5 4 3 2 1")
    assert spec.seconds == {0, 20, 40}
    assert spec.minutes == {5}
    assert spec.has_seconds


def test_star_range_step_list() -> None:
    spec = parse("*/15 8-10 1,15,31 */3 1-5")
    assert spec.minutes == {0, 15, 30, 45}
    assert spec.hours == {8, 9, 10}
    assert spec.doms == {1, 15, 31}
    assert spec.months == {1, 4, 7, 10}
    assert spec.dows == {1, 2, 3, 4, 5}


def test_range_with_step_and_start_with_step() -> None:
    spec = parse("10-40/10 7/5 * * *")
    assert spec.minutes == {10, 20, 30, 40}
    assert spec.hours == {7, 12, 17, 22}  # "7/5" is "7-23/5", as in cronie


def test_step_larger_than_range_keeps_first_value() -> None:
    assert parse("5-10/30 * * * *").minutes == {5}


def test_names_case_insensitive_and_in_ranges() -> None:
    spec = parse("0 0 * jan-MAR,Dec mon-fri")
    assert spec.months == {1, 2, 3, 12}
    assert spec.dows == {1, 2, 3, 4, 5}
    assert parse("0 0 * * SUN").dows == {0}
    assert parse("0 0 * * sat").dows == {6}


def test_weekday_seven_is_sunday() -> None:
    assert parse("0 0 * * 7").dows == {0}
    assert parse("0 0 * * 5-7").dows == {5, 6, 0}
    assert parse("0 0 * * *").dows == {0, 1, 2, 3, 4, 5, 6}


@pytest.mark.parametrize(
    ("macro", "expanded"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_macros(macro: str, expanded: str) -> None:
    got, want = parse(macro), parse(expanded)
    assert (got.seconds, got.minutes, got.hours, got.doms, got.months, got.dows) == (
        want.seconds,
        want.minutes,
        want.hours,
        want.doms,
        want.months,
        want.dows,
    )
    assert (got.dom_star, got.dow_star, got.wildcard) == (
        want.dom_star,
        want.dow_star,
        want.wildcard,
    )
    assert got.expr == macro  # kept as written, so dumps() round-trips the user's text


def test_whitespace_is_normalized() -> None:
    assert parse("  0\t2  *   * * ").expr == "0 2 * * *"


@pytest.mark.parametrize(
    ("expr", "wildcard"),
    [
        ("0 2 * * *", False),
        ("30 1,2 * * *", False),
        ("0 9-17 * * 1-5", False),
        ("* 2 * * *", True),
        ("*/5 2 * * *", True),
        ("0 * * * *", True),
        ("0 */2 * * *", True),
        ("@hourly", True),
        ("@daily", False),
        ("* 0 2 * * *", False),  # the seconds field does not count
        ("0 * 2 * * *", True),
    ],
)
def test_wildcard_classification(expr: str, wildcard: bool) -> None:
    assert parse(expr).wildcard is wildcard
    assert Cron(expr).is_wildcard is wildcard


@pytest.mark.parametrize(
    ("expr", "dom_star", "dow_star"),
    [
        ("0 0 1 * 1", False, False),
        ("0 0 * * 1", True, False),
        ("0 0 */2 * 1", True, False),  # "*/2" starts with "*": Vixie's AND rule applies
        ("0 0 1-31 * 1", False, False),  # same days as "*" but OR rule: every day
        ("0 0 1 * *", False, True),
    ],
)
def test_day_star_flags(expr: str, dom_star: bool, dow_star: bool) -> None:
    spec = parse(expr)
    assert (spec.dom_star, spec.dow_star) == (dom_star, dow_star)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "invalid cron expression '61 * * * *': minute 61 out of range 0-59"),
        ("0 24 * * *", "invalid cron expression '0 24 * * *': hour 24 out of range 0-23"),
        ("0 0 0 * *", "invalid cron expression '0 0 0 * *': day-of-month 0 out of range 1-31"),
        ("0 0 32 * *", "day-of-month 32 out of range 1-31"),
        ("0 0 * 13 *", "month 13 out of range 1-12"),
        ("0 0 * * 8", "day-of-week 8 out of range 0-7"),
        ("60 0 0 * * *", "second 60 out of range 0-59"),
        ("0 0 * FOO *", "month name 'FOO' is not one of JAN, FEB"),
        ("0 0 * * MONDAY", "day-of-week name 'MONDAY' is not one of SUN"),
        ("x * * * *", "minute value 'x' is not a number"),
        ("-1 * * * *", "minute value '' is not a number"),
        ("*/0 * * * *", "minute step '0' must be a positive number"),
        ("*/ * * * *", "minute step '' must be a positive number"),
        ("1,,2 * * * *", "minute field '1,,2' has an empty list item"),
        ("30-10 * * * *", "minute range '30-10' runs backwards"),
        ("* * * *", "expected 5 or 6 fields, got 4"),
        ("* * * * * * *", "expected 5 or 6 fields, got 7"),
        ("", "expected 5 or 6 fields, got 0"),
        ("@reboot", "unknown macro '@reboot'"),
        ("0 0 30 2 *", "can never fire"),
        ("0 0 31 4,6,9,11 *", "can never fire"),
        ("0 0 31 2 */2", "can never fire"),  # AND rule: 31 Feb on any weekday
        ("0 0 ¹ * *", "day-of-month value '¹' is not a number"),
    ],
)
def test_bad_expressions(expr: str, message: str) -> None:
    with pytest.raises(InvalidTrigger) as info:
        Cron(expr)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert text.startswith("invalid cron expression")


def test_possible_but_rare_expressions_are_accepted() -> None:
    parse("0 0 29 2 *")  # leap days
    parse("0 0 29 2 */7")  # a leap day that is a Sunday: 2032-02-29
    parse("0 0 31 2 1")  # OR rule: every Monday in February
    parse("0 0 30 2 MON")


def test_non_string_expression() -> None:
    with pytest.raises(InvalidTrigger, match="must be a string"):
        Cron(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "../../etc/passwd", "/etc/localtime"])
def test_unknown_time_zone(tz: str) -> None:
    with pytest.raises(InvalidTrigger, match="unknown time zone"):
        Cron("0 0 * * *", tz)


# ---- day tokens (Quartz / cronsim): the fields they fill


@pytest.mark.parametrize(
    ("dom", "doms", "last", "near", "near_last"),
    [
        ("L", set(), {0}, set(), set()),
        ("l", set(), {0}, set(), set()),
        ("L-3", set(), {3}, set(), set()),
        ("L-0", set(), {0}, set(), set()),
        ("L-30", set(), {30}, set(), set()),
        ("LW", set(), set(), set(), {0}),
        ("lw", set(), set(), set(), {0}),
        ("L-2W", set(), set(), set(), {2}),
        ("15W", set(), set(), {15}, set()),
        ("1w", set(), set(), {1}, set()),
        ("31W", set(), set(), {31}, set()),
        ("1,15W,L", {1}, {0}, {15}, set()),
        ("1-3,L-1,LW,20W", {1, 2, 3}, {1}, {20}, {0}),
    ],
)
def test_day_of_month_tokens(
    dom: str, doms: set[int], last: set[int], near: set[int], near_last: set[int]
) -> None:
    days = parse(f"0 0 {dom} * *").days
    assert (days.doms, days.dom_last, days.dom_near, days.dom_near_last) == (doms, last, near, near_last)


@pytest.mark.parametrize(
    ("dow", "dows", "last", "nth"),
    [
        ("5L", set(), {5}, set()),
        ("FRIL", set(), {5}, set()),
        ("fril", set(), {5}, set()),
        ("MONL", set(), {1}, set()),  # any weekday name takes L, as in Quartz
        ("0L", set(), {0}, set()),
        ("7L", set(), {0}, set()),  # 7 is Sunday
        ("MON#2", set(), set(), {(1, 2)}),
        ("1#2", set(), set(), {(1, 2)}),
        ("sun#5", set(), set(), {(0, 5)}),
        ("7#1", set(), set(), {(0, 1)}),
        ("MON-FRI,5L", {1, 2, 3, 4, 5}, {5}, set()),
        ("1#1,1#3,SAT,6L", {6}, {6}, {(1, 1), (1, 3)}),
    ],
)
def test_day_of_week_tokens(dow: str, dows: set[int], last: set[int], nth: set[tuple[int, int]]) -> None:
    days = parse(f"0 0 * * {dow}").days
    assert (days.dows, days.dow_last, days.dow_nth) == (dows, last, nth)


@pytest.mark.parametrize(
    ("expr", "both"),
    [
        ("0 0 L * 5L", False),  # neither starts with "*": either field fires (OR)
        ("0 0 * * 5L", True),
        ("0 0 L * *", True),
        ("0 0 */2 * MON#1", True),
        ("0 0 15W * 1-5", False),
    ],
)
def test_day_tokens_keep_the_or_rule(expr: str, both: bool) -> None:
    assert parse(expr).days.both is both


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 0 * * 5L-6", "day-of-week item '5L-6' is not valid: L and # come as nL"),
        ("0 0 * * 5L/3", "day-of-week item '5L/3' is not valid"),
        ("0 0 * * 1#0", "day-of-week '1#0': the week k in n#k must be 1-5"),
        ("0 0 * * 1#6", "the week k in n#k must be 1-5"),
        ("0 0 * * 1#" + "9" * 900, "the week k in n#k must be 1-5"),
        ("0 0 * * L", "day-of-week item 'L' is not valid"),  # Quartz's "Saturday": ambiguous
        ("0 0 * * 5#", "day-of-week item '5#' is not valid"),
        ("0 0 * * #2", "day-of-week item '#2' is not valid"),
        ("0 0 * * 1-5#2", "day-of-week item '1-5#2' is not valid"),
        ("0 0 * * 5#2/2", "day-of-week item '5#2/2' is not valid"),
        ("0 0 * * 1#1#1", "day-of-week item '1#1#1' is not valid"),
        ("0 0 * * 5LL", "day-of-week item '5LL' is not valid"),
        ("0 0 * * 5L#2", "day-of-week item '5L#2' is not valid"),
        ("0 0 * * *L", "day-of-week item '*L' is not valid"),
        ("0 0 * * 8L", "day-of-week 8 out of range 0-7"),
        ("0 0 * * 8#1", "day-of-week 8 out of range 0-7"),
        ("0 0 * * FRIDAYL", "day-of-week name 'FRIDAY' is not one of SUN"),
        ("0 0 * * 5W", "day-of-week value '5W' is not a number"),
        ("0 0 L/2 * *", "day-of-month item 'L/2' is not valid: L and W come as L, L-n, LW"),
        ("0 0 L-31 * *", "day-of-month 'L-31': the offset n in L-n must be 0-30"),
        ("0 0 L-" + "1" * 900 + " * *", "the offset n in L-n must be 0-30"),
        ("0 0 L- * *", "day-of-month item 'L-' is not valid"),
        ("0 0 L-x * *", "day-of-month item 'L-x' is not valid"),
        ("0 0 1-L * *", "day-of-month item '1-L' is not valid"),
        ("0 0 W * *", "day-of-month item 'W' is not valid"),
        ("0 0 1-5W * *", "day-of-month item '1-5W' is not valid"),
        ("0 0 */2W * *", "day-of-month item '*/2W' is not valid"),
        ("0 0 15W/2 * *", "day-of-month item '15W/2' is not valid"),
        ("0 0 WL * *", "day-of-month item 'WL' is not valid"),
        ("0 0 0W * *", "day-of-month 0 out of range 1-31"),
        ("0 0 32W * *", "day-of-month 32 out of range 1-31"),
        ("0 0 5#1 * *", "day-of-month value '5#1' is not a number"),
        ("0 0 * * 5,", "day-of-week field '5,' has an empty list item"),
        ("L * * * *", "minute value 'L' is not a number"),
        ("0 0 * L *", "month name 'L' is not one of JAN"),
        # can never fire
        ("0 0 L-29 2 *", "can never fire"),  # February has 28 or 29 days: no L-29
        ("0 0 L-30 4,6,9,11 *", "can never fire"),
        ("0 0 30W 2 *", "can never fire"),
        ("0 0 31W 4 *", "can never fire"),
        ("0 0 */20 * 5#2", "can never fire"),  # AND: the 1st or 21st, never days 8-14
        ("0 0 1-7 * 5#2", None),  # no "*": the OR rule, so it fires
    ],
)
def test_bad_day_tokens(expr: str, message: str | None) -> None:
    if message is None:
        Cron(expr)
        return
    with pytest.raises(InvalidTrigger) as info:
        Cron(expr)
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert len(text) < 400
    assert text.startswith("invalid cron expression")


def test_rare_day_tokens_are_accepted() -> None:
    parse("0 0 * 2 5#5")  # a fifth Friday in February: leap years starting on a Friday
    parse("0 0 L-28 2 *")  # 1 February, in leap years only
    parse("0 0 29W 2 *")  # leap years
    parse("0 0 */2 * 5#5")  # AND: a fifth Friday always falls on the 29th-31st


# ---- hostile input (issue #11): refused at construction, one short line, never another error


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("1" * 10_000 + " * * * *", "longer than 1000 characters"),
        ("1" * 990 + " * * * *", "minute '111111111111'... (990 characters) out of range 0-59"),
        ("*/" + "9" * 900 + " * * * *", "minute step '999999999999'... (900 characters) out of range 1-60"),
        ("0 0 1-" + "9" * 900 + " * *", "day-of-month '999999999999'... (900 characters) out of range"),
        ("99999999999 * * * *", "minute '99999999999' out of range 0-59"),
        ("0 0 * * 1#99999999999", "the week k in n#k must be 1-5"),
        ("*/61 * * * *", "minute step 61 out of range 1-60"),
        ("0 */25 * * *", "hour step 25 out of range 1-24"),
        ("0 0 * */13 *", "month step 13 out of range 1-12"),
        ("0 0 * * *\x00", "contains a NUL character"),
        ("\x00", "contains a NUL character"),
        ("0 0 * * *\x00 * *", "contains a NUL character"),
        ("0 0 30 2 *", "can never fire"),
        ("0 0 31 4 *", "can never fire"),
        ("\u00a0" * 5, "expected 5 or 6 fields, got 0"),  # Unicode spaces are spaces
        ("\u0661 * * * *", "minute value '\u0661' is not a number"),  # ARABIC-INDIC DIGIT ONE
    ],
)
def test_hostile_expressions(expr: str, message: str) -> None:
    with pytest.raises(InvalidTrigger) as info:
        Cron(expr)
    text = str(info.value)
    assert message in text
    assert "\n" not in text and "\x00" not in text
    assert len(text) < 400


def test_steps_as_large_as_the_field_are_accepted() -> None:
    assert parse("*/60 * * * *").minutes == {0}
    assert parse("0 */24 * * *").hours == {0}
    assert parse("0 0 */31 * *").doms == {1}


@pytest.mark.parametrize("expr", [None, b"0 0 * * *", 5, 5.0, True, ["0", "0", "*", "*", "*"], object()])
def test_non_string_expressions(expr: object) -> None:
    with pytest.raises(InvalidTrigger, match="cron expression must be a string, got "):
        Cron(expr)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tz", "message"),
    [
        ("a" * 10_000, "unknown time zone 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'... (10000 characters)"),
        ("Europe/Berlin\x00", "unknown time zone 'Europe/Berlin\\x00'"),
        ("Europe", "unknown time zone 'Europe'"),
        (5, "time zone must be a name or ZoneInfo, got int"),
        (None, "time zone must be a name or ZoneInfo, got NoneType"),
    ],
)
def test_hostile_time_zones(tz: object, message: str) -> None:
    with pytest.raises(InvalidTrigger) as info:
        Cron("0 0 * * *", tz)  # type: ignore[arg-type]
    assert message in str(info.value)


_CRON_ALPHABET = "0123456789*/,-#LWlw? \t\x00@" + "JANFEBMONSUNSATWEDFRI"
# pieces of valid and nearly valid items, so generated fields often parse
_FRAGMENTS = ["*", "*/", "0", "1", "2", "5", "7", "12", "15", "29", "30", "31", "59", "60", "99", "-", "/",
              ",", "#", "L", "W", "LW", "L-", "MON", "fri", "JAN", "?", "9" * 40]  # fmt: skip
_FUZZ_START = datetime(2024, 1, 1, tzinfo=UTC)


def _fires_or_refused(expr: object) -> None:
    """The property: a Cron that fires, or InvalidTrigger; nothing else, and no hang."""
    try:
        cron = Cron(expr)  # type: ignore[arg-type]
    except InvalidTrigger as exc:
        message = str(exc)
    else:
        event("accepted")
        assert cron.next_fire(_FUZZ_START) is not None  # accepted means it can fire
        return
    event("refused")
    assert "\n" not in message and len(message) < 400


@settings(max_examples=500, deadline=None)
@given(expr=st.text(max_size=60))
def test_random_text_is_refused_or_a_cron_that_fires(expr: str) -> None:
    _fires_or_refused(expr)


_VALID = {
    "time": ["*", "0", "*/15", "5-10", "0,30", "7/15", "59"],
    "dom": ["*", "1", "L", "LW", "15W", "L-3", "L-2W", "29", "30", "31", "*/2", "1,L", "L-30", "31W"],
    "month": ["*", "2", "4", "FEB", "1-3", "*/3", "2,4", "4,6,9,11"],
    "dow": ["*", "5L", "MON#2", "5#5", "FRIL", "1-5", "0", "*/2", "1#1,5L", "7L", "SUN#5"],
}


def _field(kind: str) -> st.SearchStrategy[str]:
    soup = st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=3).map("".join)
    return st.one_of(st.sampled_from(_VALID[kind]), st.sampled_from(_VALID[kind]), soup)


@settings(max_examples=1500, deadline=None)
@given(
    fields=st.tuples(*(_field(kind) for kind in ("time", "time", "time", "dom", "month", "dow"))),
    with_seconds=st.booleans(),
)
def test_random_cron_fragments_are_refused_or_a_cron_that_fires(
    fields: tuple[str, ...], with_seconds: bool
) -> None:
    _fires_or_refused(" ".join(fields if with_seconds else fields[1:]))


@settings(max_examples=1500, deadline=None)
@given(
    fields=st.lists(st.text(alphabet=_CRON_ALPHABET, min_size=1, max_size=8), min_size=4, max_size=7),
)
def test_random_cron_like_text_is_refused_or_a_cron_that_fires(fields: list[str]) -> None:
    _fires_or_refused(" ".join(fields))


@settings(max_examples=200, deadline=None)
@given(expr=st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.text(max_size=3))))
def test_random_non_strings_are_refused(expr: object) -> None:
    with pytest.raises(InvalidTrigger, match="must be a string"):
        Cron(expr)  # type: ignore[arg-type]
