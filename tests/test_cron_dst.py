"""Cron fires across DST and other offset changes, every instant written out by hand.

The rules (docs/schedules.md): a *fixed-time* schedule (minute and hour fields not starting
with ``*``) whose wall times are skipped by a forward jump of less than 3 h fires once, at
the first instant after the jump; across a backward jump of less than 3 h it fires only at
the first occurrence. A *wildcard* schedule just follows the wall clock: skipped times do
not fire, repeated times fire twice. Jumps of 3 h or more skip for everyone and repeat for
everyone.

Six-field expressions follow the same rule (the seconds field refines the time within the
minute; it does not make a schedule wildcard), so ``0 30 1 * * *`` fires exactly when
``30 1 * * *`` does; a catch-up fire is at the first instant after the jump (second 0).

Expected instants are UTC, worked out from the zone's published rules (the transition is
noted with each group), never computed by the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rota.triggers import Cron


def z(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (zone, expression, start (exclusive), every fire after it, in order)
CASES: list[tuple[str, str, str, list[str]]] = [
    # ---- Europe/London: 2024-03-31 01:00Z, 01:00 GMT -> 02:00 BST (wall 01:00-01:59 skipped)
    ("Europe/London", "30 1 * * *", "2024-03-30 00:00",
     ["2024-03-30 01:30", "2024-03-31 01:00", "2024-04-01 00:30"]),
    ("Europe/London", "0,30 1 * * *", "2024-03-30 12:00",  # two skipped times, one fire
     ["2024-03-31 01:00", "2024-04-01 00:00", "2024-04-01 00:30"]),
    ("Europe/London", "0 2 * * *", "2024-03-30 12:00",
     ["2024-03-31 01:00", "2024-04-01 01:00"]),
    ("Europe/London", "30 1,2 * * *", "2024-03-30 12:00",  # 01:30 -> 02:00 BST, then 02:30 BST
     ["2024-03-31 01:00", "2024-03-31 01:30", "2024-04-01 00:30", "2024-04-01 01:30"]),
    ("Europe/London", "*/30 * * * *", "2024-03-31 00:00",
     ["2024-03-31 00:30", "2024-03-31 01:00", "2024-03-31 01:30", "2024-03-31 02:00"]),
    ("Europe/London", "30 * * * *", "2024-03-30 23:00",  # 01:30 GMT never exists
     ["2024-03-30 23:30", "2024-03-31 00:30", "2024-03-31 01:30", "2024-03-31 02:30"]),
    ("Europe/London", "*/20 1 * * *", "2024-03-30 12:00",  # wildcard: the skipped hour is lost
     ["2024-04-01 00:00", "2024-04-01 00:20", "2024-04-01 00:40", "2024-04-02 00:00"]),
    ("Europe/London", "0,20,40 1 * * *", "2024-03-30 12:00",  # fixed: one catch-up fire
     ["2024-03-31 01:00", "2024-04-01 00:00", "2024-04-01 00:20"]),
    ("Europe/London", "15 30 1 * * *", "2024-03-30 12:00",  # six fields
     ["2024-03-31 01:00:00", "2024-04-01 00:30:15"]),
    ("Europe/London", "*/20 59 0 * * *", "2024-03-31 00:58",  # 00:59 GMT exists
     ["2024-03-31 00:59:00", "2024-03-31 00:59:20", "2024-03-31 00:59:40",
      "2024-03-31 23:59:00"]),
    # ---- Europe/London: 2024-10-27 01:00Z, 02:00 BST -> 01:00 GMT (wall 01:00-01:59 twice)
    ("Europe/London", "30 1 * * *", "2024-10-26 12:00",
     ["2024-10-27 00:30", "2024-10-28 01:30"]),
    ("Europe/London", "*/30 * * * *", "2024-10-26 23:45",
     ["2024-10-27 00:00", "2024-10-27 00:30", "2024-10-27 01:00", "2024-10-27 01:30",
      "2024-10-27 02:00"]),
    ("Europe/London", "15 * * * *", "2024-10-26 23:00",
     ["2024-10-26 23:15", "2024-10-27 00:15", "2024-10-27 01:15", "2024-10-27 02:15"]),
    ("Europe/London", "0,30 1 * * *", "2024-10-26 12:00",
     ["2024-10-27 00:00", "2024-10-27 00:30", "2024-10-28 01:00", "2024-10-28 01:30"]),
    ("Europe/London", "*/30 1 * * *", "2024-10-26 12:00",
     ["2024-10-27 00:00", "2024-10-27 00:30", "2024-10-27 01:00", "2024-10-27 01:30",
      "2024-10-28 01:00"]),
    ("Europe/London", "45 1 * * *", "2024-10-27 01:10",  # start inside the second 01:xx
     ["2024-10-28 01:45"]),
    ("Europe/London", "45 1 * * *", "2024-10-27 00:50",  # 01:50 BST: 01:45 already fired
     ["2024-10-28 01:45"]),
    ("Europe/London", "45 * * * *", "2024-10-27 00:50",
     ["2024-10-27 01:45", "2024-10-27 02:45"]),
    ("Europe/London", "59 1 * * *", "2024-10-26 12:00",
     ["2024-10-27 00:59", "2024-10-28 01:59"]),
    ("Europe/London", "0 2 * * *", "2024-10-26 12:00",
     ["2024-10-27 02:00", "2024-10-28 02:00"]),
    ("Europe/London", "0 1 * * *", "2024-10-27 00:00",  # 01:00 BST is the start instant
     ["2024-10-28 01:00"]),
    # ---- America/New_York: 2024-03-10 07:00Z, 02:00 EST -> 03:00 EDT
    ("America/New_York", "30 2 * * *", "2024-03-09 00:00",
     ["2024-03-09 07:30", "2024-03-10 07:00", "2024-03-11 06:30"]),
    ("America/New_York", "0 3 * * *", "2024-03-09 00:00",
     ["2024-03-09 08:00", "2024-03-10 07:00", "2024-03-11 07:00"]),
    ("America/New_York", "@hourly", "2024-03-10 05:30",
     ["2024-03-10 06:00", "2024-03-10 07:00", "2024-03-10 08:00"]),
    ("America/New_York", "0 9 * * 1-5", "2024-03-08 00:00",
     ["2024-03-08 14:00", "2024-03-11 13:00"]),
    ("America/New_York", "@daily", "2024-03-09 00:00",
     ["2024-03-09 05:00", "2024-03-10 05:00", "2024-03-11 04:00"]),
    # ---- America/New_York: 2024-11-03 06:00Z, 02:00 EDT -> 01:00 EST
    ("America/New_York", "30 1 * * *", "2024-11-02 12:00",
     ["2024-11-03 05:30", "2024-11-04 06:30"]),
    ("America/New_York", "*/15 1 * * *", "2024-11-02 12:00",
     ["2024-11-03 05:00", "2024-11-03 05:15", "2024-11-03 05:30", "2024-11-03 05:45",
      "2024-11-03 06:00", "2024-11-03 06:15", "2024-11-03 06:30", "2024-11-03 06:45",
      "2024-11-04 06:00"]),
    ("America/New_York", "0 2 * * *", "2024-11-02 12:00",
     ["2024-11-03 07:00", "2024-11-04 07:00"]),
    # ---- Australia/Lord_Howe: 2024-10-05 15:30Z, 02:00 +10:30 -> 02:30 +11 (30 min skipped)
    ("Australia/Lord_Howe", "15 2 * * *", "2024-10-04 00:00",
     ["2024-10-04 15:45", "2024-10-05 15:30", "2024-10-06 15:15"]),
    ("Australia/Lord_Howe", "45 2 * * *", "2024-10-04 00:00",
     ["2024-10-04 16:15", "2024-10-05 15:45", "2024-10-06 15:45"]),
    ("Australia/Lord_Howe", "*/20 * * * *", "2024-10-05 15:00",
     ["2024-10-05 15:10", "2024-10-05 15:40", "2024-10-05 16:00", "2024-10-05 16:20"]),
    # ---- Australia/Lord_Howe: 2024-04-06 15:00Z, 02:00 +11 -> 01:30 +10:30 (30 min twice)
    ("Australia/Lord_Howe", "45 1 * * *", "2024-04-06 00:00",
     ["2024-04-06 14:45", "2024-04-07 15:15"]),
    ("Australia/Lord_Howe", "*/20 * * * *", "2024-04-06 14:15",
     ["2024-04-06 14:20", "2024-04-06 14:40", "2024-04-06 15:10", "2024-04-06 15:30",
      "2024-04-06 15:50"]),
    ("Australia/Lord_Howe", "0,20,40 1 * * *", "2024-04-06 00:00",
     ["2024-04-06 14:00", "2024-04-06 14:20", "2024-04-06 14:40", "2024-04-07 14:30",
      "2024-04-07 14:50", "2024-04-07 15:10"]),
    # ---- Pacific/Apia: 2011-12-30 10:00Z, 29 Dec 24:00 -10 -> 31 Dec 00:00 +14 (a day lost)
    ("Pacific/Apia", "0 12 * * *", "2011-12-28 12:00",  # noon on 28, 29, 31 Dec, 1 Jan
     ["2011-12-28 22:00", "2011-12-29 22:00", "2011-12-30 22:00", "2011-12-31 22:00"]),
    ("Pacific/Apia", "0 0 30 12 *", "2011-12-01 00:00",  # 30 Dec 2011 never happened
     ["2012-12-29 10:00"]),
    ("Pacific/Apia", "0 * * * *", "2011-12-30 08:30",
     ["2011-12-30 09:00", "2011-12-30 10:00", "2011-12-30 11:00"]),
    ("Pacific/Apia", "30 23 * * *", "2011-12-29 12:00",  # 23:30 on the 29th, then the 31st
     ["2011-12-30 09:30", "2011-12-31 09:30"]),
    # ---- Antarctica/Casey: 2009-10-17 18:00Z, 02:00 +08 -> 05:00 +11 (3 h: large jump)
    ("Antarctica/Casey", "0 3 * * *", "2009-10-16 00:00",
     ["2009-10-16 19:00", "2009-10-18 16:00"]),
    # ---- Antarctica/Casey: 2010-03-04 15:00Z, 02:00 +11 -> 23:00 +08 (3 h back: all repeat)
    ("Antarctica/Casey", "30 0 * * *", "2010-03-04 00:00",
     ["2010-03-04 13:30", "2010-03-04 16:30", "2010-03-05 16:30"]),
    # ---- Asia/Beirut: 2024-03-30 22:00Z, 00:00 +02 -> 01:00 +03 (midnight skipped)
    ("Asia/Beirut", "@daily", "2024-03-29 00:00",
     ["2024-03-29 22:00", "2024-03-30 22:00", "2024-03-31 21:00"]),
    ("Asia/Beirut", "0 0 * * 6", "2024-03-29 00:00",  # Sat 30 Mar 00:00 is real (+02)
     ["2024-03-29 22:00", "2024-04-05 21:00"]),
    ("Asia/Beirut", "0 0 * * 0", "2024-03-29 00:00",  # Sun 31 Mar 00:00 skipped
     ["2024-03-30 22:00", "2024-04-06 21:00"]),
]  # fmt: skip


# Day tokens on the day of a transition: Europe changes on the last Sunday of March and
# October, Israel (2024) and Syria (2021) on a Friday.
DAY_TOKEN_CASES: list[tuple[str, str, str, list[str]]] = [
    # ---- Europe/London 2024-03-31 (the last Sunday and the last day of March), 01:00Z
    ("Europe/London", "30 1 * * 0L", "2024-03-01 00:00",  # 01:30 skipped: caught up at 02:00 BST
     ["2024-03-31 01:00", "2024-04-28 00:30"]),
    ("Europe/London", "30 1 * * SUNL", "2024-03-01 00:00",
     ["2024-03-31 01:00", "2024-04-28 00:30"]),
    ("Europe/London", "30 1 L * *", "2024-02-01 00:00",
     ["2024-02-29 01:30", "2024-03-31 01:00", "2024-04-30 00:30"]),
    ("Europe/London", "30 1 * * SUN#5", "2024-03-01 00:00",  # Sundays 3, 10, 17, 24, 31 March
     ["2024-03-31 01:00", "2024-06-30 00:30", "2024-09-29 00:30"]),
    ("Europe/London", "*/30 1 * * 0L", "2024-03-01 00:00",  # wildcard: nothing on the 31st
     ["2024-04-28 00:00", "2024-04-28 00:30"]),
    ("Europe/London", "0 2 L 3 *", "2024-03-01 00:00",  # 02:00 BST exists: no catch-up needed
     ["2024-03-31 01:00", "2025-03-31 01:00"]),
    # ---- Europe/London 2024-10-27 (the last Sunday of October), 02:00 BST -> 01:00 GMT
    ("Europe/London", "30 1 * * 0L", "2024-10-01 00:00",  # 01:30 twice: the first only
     ["2024-10-27 00:30", "2024-11-24 01:30"]),
    ("Europe/London", "30 1 * 10 7#4", "2024-10-01 00:00",  # Sundays 6, 13, 20, 27 October
     ["2024-10-27 00:30", "2025-10-26 00:30"]),
    ("Europe/London", "*/30 1 * 10 0L", "2024-10-01 00:00",  # wildcard: both 01:00 and 01:30
     ["2024-10-27 00:00", "2024-10-27 00:30", "2024-10-27 01:00", "2024-10-27 01:30",
      "2025-10-26 00:00"]),
    # ---- Asia/Jerusalem 2024-03-29 (a Friday: LW and the last Friday of March), 00:00Z,
    #      02:00 +02 -> 03:00 +03
    ("Asia/Jerusalem", "30 2 LW * *", "2024-02-01 00:00",
     ["2024-02-29 00:30", "2024-03-29 00:00", "2024-04-29 23:30"]),
    ("Asia/Jerusalem", "30 2 * * 5L", "2024-02-01 00:00",
     ["2024-02-23 00:30", "2024-03-29 00:00", "2024-04-25 23:30"]),
    ("Asia/Jerusalem", "30 2 * * FRI#5", "2024-02-01 00:00",  # Fridays 1, 8, 15, 22, 29 March
     ["2024-03-29 00:00", "2024-05-30 23:30"]),
    ("Asia/Jerusalem", "15 2 L-2W * *", "2024-03-01 00:00",  # L-2 = Fri 29 March
     ["2024-03-29 00:00", "2024-04-28 23:15"]),  # April: L-2 = Sun 28 -> Mon 29, 02:15 +03
    # ---- Asia/Damascus 2021-03-26 (the last Friday of March), 00:00 +02 -> 01:00 +03 at
    #      2021-03-25 22:00Z; 2021-10-29 (the last Friday of October), 00:00 +03 -> 23:00
    #      +02 on Thursday 28 at 2021-10-28 21:00Z (23:00-23:59 on the 28th twice)
    ("Asia/Damascus", "0 0 * * 5L", "2021-03-01 00:00",  # midnight skipped: 01:00 +03
     ["2021-03-25 22:00", "2021-04-29 21:00"]),
    ("Asia/Damascus", "30 23 * * 4L", "2021-10-01 00:00",  # Thursday 28: the first 23:30
     ["2021-10-28 20:30", "2021-11-25 21:30"]),
    ("Asia/Damascus", "*/30 23 * * 4L", "2021-10-01 00:00",
     ["2021-10-28 20:00", "2021-10-28 20:30", "2021-10-28 21:00", "2021-10-28 21:30",
      "2021-11-25 21:00"]),
]  # fmt: skip

# The six-field rule over the zones above: skipped and repeated wall times.
SIX_FIELD_CASES: list[tuple[str, str, str, list[str]]] = [
    # ---- Europe/London 2024-03-31 01:00Z (01:00-01:59 skipped) and 2024-10-27 (twice)
    ("Europe/London", "11,22 30 1 * * *", "2024-03-30 12:00",  # one catch-up, at second 0
     ["2024-03-31 01:00:00", "2024-04-01 00:30:11", "2024-04-01 00:30:22"]),
    ("Europe/London", "0 30 1 * * *", "2024-03-30 00:00",  # exactly "30 1 * * *"
     ["2024-03-30 01:30", "2024-03-31 01:00", "2024-04-01 00:30"]),
    ("Europe/London", "*/20 * 1 * * *", "2024-03-31 00:59:50",  # wildcard: the hour is lost
     ["2024-04-01 00:00:00", "2024-04-01 00:00:20", "2024-04-01 00:00:40"]),
    ("Europe/London", "11,22 30 1 * * *", "2024-10-26 12:00",
     ["2024-10-27 00:30:11", "2024-10-27 00:30:22", "2024-10-28 01:30:11"]),
    ("Europe/London", "0 */30 1 * * *", "2024-10-26 12:00",
     ["2024-10-27 00:00", "2024-10-27 00:30", "2024-10-27 01:00", "2024-10-27 01:30",
      "2024-10-28 01:00"]),
    # ---- America/New_York 2024-03-10 07:00Z (02:00-02:59 skipped), 2024-11-03 06:00Z (01:xx twice)
    ("America/New_York", "11,22 30 2 * * *", "2024-03-09 12:00",
     ["2024-03-10 07:00:00", "2024-03-11 06:30:11", "2024-03-11 06:30:22"]),
    ("America/New_York", "45 30 1 * * *", "2024-11-02 12:00",
     ["2024-11-03 05:30:45", "2024-11-04 06:30:45"]),
    ("America/New_York", "45 30 * * * *", "2024-11-03 04:00",
     ["2024-11-03 04:30:45", "2024-11-03 05:30:45", "2024-11-03 06:30:45", "2024-11-03 07:30:45"]),
    # ---- Australia/Lord_Howe 2024-10-05 15:30Z (02:00-02:29 skipped), 2024-04-06 15:00Z
    ("Australia/Lord_Howe", "11,22 15 2 * * *", "2024-10-04 00:00",
     ["2024-10-04 15:45:11", "2024-10-04 15:45:22", "2024-10-05 15:30:00", "2024-10-06 15:15:11"]),
    ("Australia/Lord_Howe", "11,22 45 1 * * *", "2024-04-06 00:00",
     ["2024-04-06 14:45:11", "2024-04-06 14:45:22", "2024-04-07 15:15:11"]),
    # ---- Pacific/Apia 2011-12-30 10:00Z: a 24 h jump, nothing catches up
    ("Pacific/Apia", "30 0 12 * * *", "2011-12-28 12:00",
     ["2011-12-28 22:00:30", "2011-12-29 22:00:30", "2011-12-30 22:00:30"]),
    ("Pacific/Apia", "11,22 0 0 30 12 *", "2011-12-01 00:00",
     ["2012-12-29 10:00:11", "2012-12-29 10:00:22"]),
    # ---- Antarctica/Casey: 3 h forward (2009-10-17 18:00Z) and back (2010-03-04 15:00Z)
    ("Antarctica/Casey", "15 0 3 * * *", "2009-10-16 00:00",
     ["2009-10-16 19:00:15", "2009-10-18 16:00:15"]),
    ("Antarctica/Casey", "15 30 0 * * *", "2010-03-04 00:00",
     ["2010-03-04 13:30:15", "2010-03-04 16:30:15", "2010-03-05 16:30:15"]),
    # ---- Asia/Beirut 2024-03-30 22:00Z (midnight skipped), 2024-10-26 21:00Z (23:xx twice)
    ("Asia/Beirut", "11,22 0 0 * * *", "2024-03-29 00:00",
     ["2024-03-29 22:00:11", "2024-03-29 22:00:22", "2024-03-30 22:00:00", "2024-03-31 21:00:11"]),
    ("Asia/Beirut", "11 30 23 * * *", "2024-10-26 12:00",
     ["2024-10-26 20:30:11", "2024-10-27 21:30:11"]),
    ("Asia/Beirut", "11 */30 23 * * *", "2024-10-26 12:00",
     ["2024-10-26 20:00:11", "2024-10-26 20:30:11", "2024-10-26 21:00:11", "2024-10-26 21:30:11",
      "2024-10-27 21:00:11"]),
    # ---- Europe/Riga, the worked examples of docs/schedules.md: 2021-03-28 01:00Z
    #      (03:00 EET -> 04:00 EEST) and 2021-10-31 01:00Z (04:00 EEST -> 03:00 EET)
    ("Europe/Riga", "11,22 30 1,2,3,4 * * *", "2021-03-27 23:00",
     ["2021-03-27 23:30:11", "2021-03-27 23:30:22", "2021-03-28 00:30:11", "2021-03-28 00:30:22",
      "2021-03-28 01:00:00", "2021-03-28 01:30:11", "2021-03-28 01:30:22"]),
    ("Europe/Riga", "11,22 */30 3 * * *", "2021-03-27 12:00",
     ["2021-03-29 00:00:11", "2021-03-29 00:00:22"]),
    ("Europe/Riga", "11,22 30 3 * * *", "2021-10-30 12:00",
     ["2021-10-31 00:30:11", "2021-10-31 00:30:22", "2021-11-01 01:30:11"]),
    ("Europe/Riga", "11,22 */30 3 * * *", "2021-10-30 12:00",
     ["2021-10-31 00:00:11", "2021-10-31 00:00:22", "2021-10-31 00:30:11", "2021-10-31 00:30:22",
      "2021-10-31 01:00:11", "2021-10-31 01:00:22", "2021-10-31 01:30:11", "2021-10-31 01:30:22",
      "2021-11-01 01:00:11"]),
]  # fmt: skip

ALL_CASES = CASES + DAY_TOKEN_CASES + SIX_FIELD_CASES


def _ids() -> list[str]:
    return [f"{zone}|{expr}|{start}" for zone, expr, start, _ in ALL_CASES]


@pytest.mark.parametrize(("zone", "expr", "start", "expected"), ALL_CASES, ids=_ids())
def test_fires_across_transition(zone: str, expr: str, start: str, expected: list[str]) -> None:
    cron = Cron(expr, zone)
    got: list[datetime] = []
    t: datetime | None = z(start)
    for _ in expected:
        assert t is not None
        t = cron.next_fire(t)
        assert t is not None
        got.append(t)
    assert got == [z(e) for e in expected]


@pytest.mark.parametrize(("zone", "expr", "start", "expected"), ALL_CASES, ids=_ids())
def test_each_fire_is_found_from_just_before_it(
    zone: str, expr: str, start: str, expected: list[str]
) -> None:
    cron = Cron(expr, zone)
    for e in expected:
        fire = z(e)
        assert cron.next_fire(fire - timedelta(microseconds=1)) == fire
        assert cron.next_fire(fire - timedelta(seconds=1)) == fire


def test_result_is_utc_and_start_zone_does_not_matter() -> None:
    cron = Cron("30 1 * * *", "Europe/London")
    after = datetime.fromisoformat("2024-03-30T13:00:00+01:00")  # 12:00Z, any zone
    fire = cron.next_fire(after)
    assert fire == z("2024-03-31 01:00")
    assert fire is not None
    assert fire.tzinfo is UTC


def test_a_jump_of_exactly_three_hours_is_a_time_change_not_dst() -> None:
    """Vixie cron measures the jump from the last minute it ran: 01:59 -> 05:00 is 181 minutes,
    over its 180-minute DST limit, so the skipped 02:01 is not caught up (Casey, +08 -> +11 on
    2009-10-18). Found by hypothesis from an unaligned start (17:59:59Z)."""
    cron = Cron("1 0-2,4-5 * * *", tz="Antarctica/Casey")
    for start in ("2009-10-17T17:59:59+00:00", "2009-10-17T17:01:00+00:00"):
        fire = cron.next_fire(datetime.fromisoformat(start))
        assert fire == datetime.fromisoformat("2009-10-18T05:01:00+11:00")
