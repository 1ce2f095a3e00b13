"""Interval and one-time triggers, the Trigger protocol, serialization and input errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from rota._errors import InvalidTrigger
from rota.triggers import At, Cron, Every, Trigger, load_trigger


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ---------------------------------------------------------------- interval


def test_every_fires_on_the_anchor_grid() -> None:
    every = Every(minutes=5, start=z("2024-01-01 00:00:10"))
    assert every.next_fire(z("2023-12-31 00:00")) == z("2024-01-01 00:00:10")  # start itself
    assert every.next_fire(z("2024-01-01 00:00:10")) == z("2024-01-01 00:05:10")
    assert every.next_fire(z("2024-01-01 00:03:00")) == z("2024-01-01 00:05:10")
    assert every.next_fire(z("2024-01-01 00:05:09.999999")) == z("2024-01-01 00:05:10")


def test_every_does_not_drift_with_run_duration() -> None:
    """Asking late (a run took 7 minutes) gives the next grid point, not late + period."""
    every = Every(minutes=5, start=z("2024-01-01 00:00"))
    fire = z("2024-01-01 00:00")
    finished = fire + timedelta(minutes=7, seconds=13)
    assert every.next_fire(finished) == z("2024-01-01 00:10")


def test_every_stays_exact_after_many_periods() -> None:
    every = Every(timedelta(seconds=0.1), start=z("2000-01-01 00:00"))
    # 24 years of 0.1 s periods: integer arithmetic, no float error
    assert every.next_fire(z("2024-01-01 00:00:00.05")) == z("2024-01-01 00:00:00.1")
    assert every.next_fire(z("2024-01-01 00:00")) == z("2024-01-01 00:00:00.1")


def test_every_is_elapsed_time_across_dst() -> None:
    start = datetime(2024, 3, 30, 12, tzinfo=ZoneInfo("Europe/London"))
    every = Every(days=1, start=start)
    # 24 h later is 13:00 BST, not 12:00: use Cron for wall-clock times
    assert every.next_fire(start) == z("2024-03-31 12:00")
    assert every.next_fire(start).astimezone(ZoneInfo("Europe/London")).hour == 13  # type: ignore[union-attr]


def test_every_units_add_up_and_accept_timedelta_or_seconds() -> None:
    assert Every(weeks=1, days=1, hours=1, minutes=1, seconds=1).period == timedelta(days=8, seconds=3661)
    assert Every(timedelta(hours=2)).period == timedelta(hours=2)
    assert Every(90).period == timedelta(seconds=90)
    assert Every(1.5).period == timedelta(seconds=1.5)


def test_unanchored_every_is_epoch_aligned_and_can_be_anchored() -> None:
    every = Every(minutes=5)
    assert every.start is None
    assert every.next_fire(z("2024-05-05 10:02:00")) == z("2024-05-05 10:05:00")
    anchored = every.with_anchor(z("2024-05-05 10:01:00"))
    assert anchored.start == z("2024-05-05 10:01:00")
    assert anchored.next_fire(z("2024-05-05 10:02:00")) == z("2024-05-05 10:06:00")
    assert anchored.with_anchor(z("2030-01-01 00:00")) is anchored  # keeps its anchor
    assert every.start is None  # immutable: with_anchor returned a new trigger


def test_every_first_fire_is_strictly_after_creation() -> None:
    every = Every(minutes=5).with_anchor(z("2024-05-05 10:00"))
    assert every.first_fire(z("2024-05-05 10:00")) == z("2024-05-05 10:05")
    future = Every(hours=1, start=z("2024-06-01 00:00"))
    assert future.first_fire(z("2024-05-05 10:00")) == z("2024-06-01 00:00")


def test_every_near_the_end_of_time_returns_none() -> None:
    every = Every(weeks=1040, start=z("9990-01-01 00:00"))  # next: year 10009
    assert every.next_fire(z("9999-01-01 00:00")) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "period must be positive"),
        ({"seconds": 0}, "period must be positive"),
        ({"minutes": -5}, "must not be negative"),
        ({"seconds": "5"}, "must be a number"),
        ({"seconds": True}, "must be a number"),
        ({"start": datetime(2024, 1, 1)}, "has no time zone"),
        ({"start": "2024-01-01"}, "must be a datetime"),
    ],
)
def test_every_rejects_bad_input(kwargs: dict[str, object], message: str) -> None:
    if "start" in kwargs:
        kwargs = {"minutes": 1, **kwargs}
    with pytest.raises(InvalidTrigger, match=message):
        Every(**kwargs)  # type: ignore[arg-type]


def test_every_rejects_period_and_units_together() -> None:
    with pytest.raises(InvalidTrigger, match="not both"):
        Every(timedelta(minutes=1), seconds=5)
    with pytest.raises(InvalidTrigger, match="must be positive"):
        Every(timedelta(0))


# ---------------------------------------------------------------- one-time


def test_at_fires_once() -> None:
    at = At(z("2024-07-01 09:00"))
    assert at.next_fire(z("2024-06-30 00:00")) == z("2024-07-01 09:00")
    assert at.next_fire(z("2024-07-01 08:59:59.999999")) == z("2024-07-01 09:00")
    assert at.next_fire(z("2024-07-01 09:00")) is None
    assert at.next_fire(z("2025-01-01 00:00")) is None


def test_at_first_fire_returns_a_past_instant_for_the_misfire_policy() -> None:
    at = At(z("2024-07-01 09:00"))
    assert at.first_fire(z("2024-07-01 10:00")) == z("2024-07-01 09:00")  # late, still given
    assert at.first_fire(z("2024-06-01 10:00")) == z("2024-07-01 09:00")


def test_at_normalizes_to_utc() -> None:
    at = At(datetime(2024, 7, 1, 11, tzinfo=ZoneInfo("Europe/Berlin")))
    assert at.when == z("2024-07-01 09:00")
    assert at.when.tzinfo is UTC


def test_at_rejects_naive() -> None:
    with pytest.raises(InvalidTrigger, match="has no time zone"):
        At(datetime(2024, 7, 1))


# ---------------------------------------------------------------- all triggers

TRIGGERS: list[Trigger] = [
    Cron("0 2 * * *", "Europe/Berlin"),
    Cron("*/10 0 9-17 * * MON-FRI", ZoneInfo("America/New_York")),
    Cron("@hourly"),
    Every(minutes=5),
    Every(seconds=1.25, start=z("2024-01-01 00:00:00.5")),
    At(z("2024-07-01 09:00")),
]


@pytest.mark.parametrize("trigger", TRIGGERS, ids=repr)
def test_round_trip(trigger: Trigger) -> None:
    text = trigger.dumps()
    again = load_trigger(text)
    assert again == trigger
    assert again.dumps() == text
    assert type(again) is type(trigger)
    assert '", "' not in text
    assert '": ' not in text  # compact separators
    assert isinstance(trigger, Trigger)
    assert trigger.describe()


def test_dumps_is_compact_and_canonical() -> None:
    assert Cron("0 2 * * *", "Europe/Berlin").dumps() == '{"cron":"0 2 * * *","tz":"Europe/Berlin"}'
    assert Cron("  0  2 * * *", "Europe/Berlin").dumps() == Cron("0 2 * * *", "Europe/Berlin").dumps()
    assert Every(minutes=5).dumps() == '{"every":300,"start":null}'
    assert Every(seconds=1.5, start=z("2024-01-01 00:00")).dumps() == (
        '{"every":1.5,"start":"2024-01-01T00:00:00+00:00"}'
    )
    assert At(z("2024-07-01 09:00")).dumps() == '{"at":"2024-07-01T09:00:00+00:00"}'


def test_describe() -> None:
    assert Cron("0 2 * * *", "Europe/Berlin").describe() == ("cron '0 2 * * *' in Europe/Berlin (fixed-time)")
    assert Cron("*/5 * * * *").describe() == "cron '*/5 * * * *' in UTC (wildcard)"
    assert Every(minutes=5).describe() == "every 5 minutes"
    assert Every(hours=1, start=z("2024-01-01 00:00")).describe() == (
        "every 1 hour from 2024-01-01T00:00:00+00:00"
    )
    assert Every(seconds=1.5).describe() == "every 1.5 seconds"
    assert At(z("2024-07-01 09:00")).describe() == "once at 2024-07-01T09:00:00+00:00"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not JSON"),
        ("[1]", "is not a JSON object"),
        ('{"cron":"0 2 * * *"}', "is not a cron, interval or one-time trigger"),
        ('{"cron":"61 * * * *","tz":"UTC"}', "minute 61 out of range 0-59"),
        ('{"cron":"0 2 * * *","tz":"Nowhere/Land"}', "unknown time zone"),
        ('{"every":300,"start":5}', "start must be an ISO 8601 string"),
        ('{"every":300,"start":"yesterday"}', "is not ISO 8601"),
        ('{"every":-1,"start":null}', "must not be negative"),
        ('{"at":"2024-07-01T09:00:00"}', "has no time zone"),
    ],
)
def test_load_trigger_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidTrigger, match=message):
        load_trigger(text)


@pytest.mark.parametrize("trigger", TRIGGERS, ids=repr)
def test_naive_after_is_refused(trigger: Trigger) -> None:
    with pytest.raises(InvalidTrigger, match="has no time zone"):
        trigger.next_fire(datetime(2024, 1, 1))


@pytest.mark.parametrize("trigger", TRIGGERS, ids=repr)
def test_triggers_are_immutable(trigger: Trigger) -> None:
    with pytest.raises(AttributeError):
        trigger._x = 1  # type: ignore[union-attr]
    hash(trigger)


def test_non_utc_after_and_fixed_offset_zone_input() -> None:
    cron = Cron("0 12 * * *", "Asia/Tokyo")
    after = datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=9)))  # 03:00Z, noon JST
    assert cron.next_fire(after) == z("2024-01-02 03:00")


def test_cron_in_utc_and_rare_dates() -> None:
    assert Cron("0 0 29 2 *").next_fire(z("2024-03-01 00:00")) == z("2028-02-29 00:00")
    # AND rule (day-of-week starts with *): a 29 February that is a Sunday
    assert Cron("0 0 29 2 */7").next_fire(z("2004-03-01 00:00")) == z("2032-02-29 00:00")
    # OR rule: the 13th, or any Friday
    assert Cron("0 0 13 * 5").next_fire(z("2024-09-07 00:00")) == z("2024-09-13 00:00")
    assert Cron("0 0 13 * 5").next_fire(z("2024-09-13 00:00")) == z("2024-09-20 00:00")
    assert Cron("0 0 13 * 5").next_fire(z("2024-10-04 00:00")) == z("2024-10-11 00:00")
    assert Cron("0 0 13 * 5").next_fire(z("2024-10-11 00:00")) == z("2024-10-13 00:00")


def test_cron_end_of_time() -> None:
    assert Cron("0 0 1 1 *").next_fire(z("9997-06-01 00:00")) is None
