"""A clock that moves only when a test says so."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class FakeClock:
    """A ``rota.Clock`` whose time moves only through ``advance``/``set``.

    ``sleep`` parks the caller until the fake time reaches its deadline. ``advance`` moves
    time forward one sleeper deadline at a time, letting the event loop run between steps,
    so periodic loops (heartbeats, schedulers) tick as often as they would in real time.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2030, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._start = self._now
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._changed: asyncio.Condition | None = None

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return (self._now - self._start).total_seconds()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        await self._wait(self._park(seconds))

    def _park(self, seconds: float) -> asyncio.Future[None]:
        """A sleeper whose deadline is ``seconds`` from now, counted from this call."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + timedelta(seconds=seconds), next(self._seq), fut))
        return fut

    async def _wait(self, fut: asyncio.Future[None]) -> None:
        await self._notify()
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()

    def call_later(self, seconds: float, callback: Callable[[], object]) -> asyncio.Task[None]:
        """Call ``callback()`` once the fake time has moved ``seconds`` on from this call (a
        task sleeping on this clock: it counts among the ``sleepers``); cancel the task to
        stop it.

        The deadline is taken now, not when the task first runs: time advanced before the
        event loop got to the task must count (how soon the loop runs a new task differs
        between Python versions)."""
        fut = self._park(seconds) if seconds > 0 else None

        async def fire() -> None:
            if fut is None:
                await asyncio.sleep(0)
            else:
                await self._wait(fut)
            callback()

        task = asyncio.get_running_loop().create_task(fire())
        if fut is not None:  # a task cancelled before its first step never awaited its sleeper
            task.add_done_callback(lambda _: fut.cancel())
        return task

    @property
    def sleepers(self) -> int:
        """How many coroutines are parked in ``sleep`` right now."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> datetime | None:
        live = [d for d, _, f in self._sleepers if not f.done()]
        return min(live) if live else None

    async def wait_for_sleepers(self, n: int = 1) -> None:
        """Wait (without real time passing) until at least ``n`` coroutines sleep on this clock."""
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: self.sleepers >= n)

    async def wait_for_deadline(self, when: datetime) -> None:
        """Wait (without real time passing) until some coroutine sleeps until exactly ``when``."""
        target = when.astimezone(UTC)
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: any(d == target and not f.done() for d, _, f in self._sleepers))

    async def advance(self, seconds: float | timedelta) -> None:
        """Move time forward, waking each sleeper at its own deadline, in order."""
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        if seconds < 0:
            raise ValueError("time only moves forward; use set() to jump")
        await self.set(self._now + timedelta(seconds=seconds))

    async def set(self, when: datetime) -> None:
        """Move time to ``when`` (forward, or back to model a wall-clock step)."""
        target = when.astimezone(UTC)
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            if fut.done():
                continue
            self._now = max(self._now, deadline)
            fut.set_result(None)
            await settle()
        self._now = target
        await settle()

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _notify(self) -> None:
        cond = self._condition()
        async with cond:
            cond.notify_all()


async def settle(rounds: int = 20) -> None:
    """Let ready coroutines run: yields to the event loop ``rounds`` times (no real waiting)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
