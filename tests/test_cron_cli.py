"""``rota schedules show`` lists a cron schedule's next fires in the schedule's own zone,
day tokens and DST rules included (the catch-up fire of a skipped time among them)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rota import App
from rota.cli import main
from rota.testing import FakeClock
from rota.triggers import Cron

# (schedule id, expression, zone, the next five fires as the CLI prints them)
SCHEDULES = [
    # the last day of the month; 31 March 2024 01:30 does not exist in London (01:00Z jump)
    ("month-end", "30 1 L * *", "Europe/London",
     ["2024-03-31 02:00:00 BST", "2024-04-30 01:30:00 BST", "2024-05-31 01:30:00 BST",
      "2024-06-30 01:30:00 BST", "2024-07-31 01:30:00 BST"]),
    # the last Friday; Israel's clocks went 02:00 -> 03:00 on Friday 29 March 2024
    ("last-friday", "30 2 * * 5L", "Asia/Jerusalem",
     ["2024-03-29 03:00:00 IDT", "2024-04-26 02:30:00 IDT", "2024-05-31 02:30:00 IDT",
      "2024-06-28 02:30:00 IDT", "2024-07-26 02:30:00 IDT"]),
    ("second-monday", "0 9 * * MON#2", "America/New_York",
     ["2024-03-11 09:00:00 EDT", "2024-04-08 09:00:00 EDT", "2024-05-13 09:00:00 EDT",
      "2024-06-10 09:00:00 EDT", "2024-07-08 09:00:00 EDT"]),
    ("last-weekday", "0 18 LW * *", "Europe/Berlin",  # 31 March 2024 is a Sunday
     ["2024-03-29 18:00:00 CET", "2024-04-30 18:00:00 CEST", "2024-05-31 18:00:00 CEST",
      "2024-06-28 18:00:00 CEST", "2024-07-31 18:00:00 CEST"]),
]  # fmt: skip


@pytest.fixture
def url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["db", "migrate", "--store", url]) == 0
    capsys.readouterr()

    async def add() -> None:
        async with App(url, clock=FakeClock(datetime(2024, 3, 1, tzinfo=UTC))) as app:

            @app.task(name="report")
            async def report() -> None: ...

            for schedule_id, expr, zone, _ in SCHEDULES:
                await app.schedules.add(schedule_id, task=report, trigger=Cron(expr, zone))

    asyncio.run(add())
    return url


@pytest.mark.parametrize(("schedule_id", "fires"), [(s[0], s[3]) for s in SCHEDULES])
def test_show_prints_the_next_five_fires_in_the_schedule_zone(
    capsys: pytest.CaptureFixture[str], url: str, schedule_id: str, fires: list[str]
) -> None:
    assert main(["schedules", "show", "--store", url, schedule_id]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("upcoming"))
    shown = [line.strip().removeprefix("upcoming").strip() for line in lines[start : start + 6]]
    assert shown[:5] == fires
    assert len(shown) == 5 or not shown[5][:1].isdigit()  # five, no more


def test_a_paused_schedule_lists_no_upcoming_fires(capsys: pytest.CaptureFixture[str], url: str) -> None:
    assert main(["schedules", "pause", "--store", url, "month-end"]) == 0
    capsys.readouterr()
    assert main(["schedules", "show", "--store", url, "month-end"]) == 0
    out = capsys.readouterr().out
    assert "paused" in out and "upcoming" not in out
