"""The generic retry helper every store call goes through: an outage is one warning when it
starts and one line when it ends; a stop or the store's reconnection ends a backoff pause."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from rota import StoreUnavailable
from rota.runtime.resilience import OutageLog, with_retries
from rota.testing import FakeClock

WAIT = 10


class Flaky:
    """Fails ``times`` calls with StoreUnavailable, then answers ``"ok"``."""

    def __init__(self, times: int) -> None:
        self.left = times
        self.calls = 0
        self.called = asyncio.Event()

    async def __call__(self) -> str:
        self.calls += 1
        self.called.set()
        if self.left:
            self.left -= 1
            raise StoreUnavailable("connection refused")
        return "ok"


async def test_an_outage_is_one_warning_and_one_line_whatever_its_length(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    outages = OutageLog(logging.getLogger("test.outage"))
    caplog.set_level(logging.DEBUG, logger="test.outage")
    calls = [Flaky(6), Flaky(3)]  # two loops of one process meet the same outage
    tasks = [
        asyncio.create_task(
            with_retries(c, clock=clock, what=f"call{n}", stopping=lambda: False, outages=outages)
        )
        for n, c in enumerate(calls)
    ]
    for _ in range(6):
        await clock.wait_for_sleepers(1)
        await clock.advance(clock.next_deadline() - clock.now())  # type: ignore[operator]
    assert await asyncio.wait_for(asyncio.gather(*tasks), WAIT) == ["ok", "ok"]
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "test.outage"]
    assert [m for level, m in records if level >= logging.WARNING] == [
        "store unavailable during call0 (connection refused); retrying until it is back"
    ]
    ended = [m for level, m in records if level == logging.INFO]
    assert len(ended) == 1 and ended[0].startswith("store reachable again after")
    assert not outages.down


async def test_a_stop_ends_a_backoff_pause_at_once(clock: FakeClock) -> None:
    stop = asyncio.Event()
    call = Flaky(100)
    task = asyncio.create_task(
        with_retries(call, clock=clock, what="claim", stopping=stop.is_set, interrupt=stop)
    )
    await clock.wait_for_sleepers(1)
    stop.set()  # the fake clock stands still: only the interrupt can end the pause
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(task, WAIT)
    assert call.calls == 1


async def test_a_reconnection_ends_the_pause_and_restarts_the_backoff(clock: FakeClock) -> None:
    back = asyncio.Event()
    call = Flaky(8)

    async def reconnected() -> None:  # as Store.wait_reconnected: once per reconnection
        await back.wait()
        back.clear()

    task = asyncio.create_task(
        with_retries(call, clock=clock, what="claim", stopping=lambda: False, wake=reconnected)
    )
    for _ in range(6):  # 0.1 + 0.2 + ... + 3.2: the next pause would be 5 s
        await clock.wait_for_sleepers(1)
        await clock.advance(clock.next_deadline() - clock.now())  # type: ignore[operator]
    await clock.wait_for_sleepers(1)
    assert clock.next_deadline() - clock.now() == timedelta(seconds=5)  # type: ignore[operator]
    call.called.clear()
    back.set()  # the store says it is back: retried now, not in 5 s
    await asyncio.wait_for(call.called.wait(), WAIT)
    assert call.calls == 8
    await clock.wait_for_sleepers(1)  # the 8th call failed too: its pause starts over at 0.1 s
    assert clock.next_deadline() - clock.now() == timedelta(seconds=0.1)  # type: ignore[operator]
    await clock.advance(0.1)
    assert await asyncio.wait_for(task, WAIT) == "ok"
