"""Cron parsing: every syntax form maps to the exact value sets, and bad input is refused
with a one-line message naming the field."""

from __future__ import annotations

import pytest

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
