"""FakeClock.call_later: its deadline counts from the call, whenever the event loop first runs
the timer's task (found on Python 3.12, where tasks start in fewer loop turns than on 3.11)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from rota.testing import FakeClock


async def test_call_later_counts_from_the_call_not_from_the_tasks_first_step() -> None:
    clock = FakeClock()
    start = clock.now()
    fired: list[datetime] = []
    clock.call_later(1.0, lambda: fired.append(clock.now()))
    await clock.advance(0.6)  # the timer's task has not run yet when this advance begins
    assert fired == []
    await clock.advance(0.4)
    assert [(t - start).total_seconds() for t in fired] == [1.0]  # was 1.6: from the first step


async def test_a_timer_cancelled_before_its_first_step_leaves_no_sleeper() -> None:
    clock = FakeClock()
    fired: list[int] = []
    timer = clock.call_later(5, lambda: fired.append(1))
    assert clock.sleepers == 1  # counted at once
    timer.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert clock.sleepers == 0
    await clock.advance(10)
    assert fired == []


async def test_a_timer_of_zero_seconds_fires_without_time_moving() -> None:
    clock = FakeClock()
    fired = asyncio.Event()
    clock.call_later(0, fired.set)
    await asyncio.wait_for(fired.wait(), 5)
    assert clock.monotonic() == 0
