"""How late the event loop runs: a handler that blocks the loop (a blocking call inside an
``async def``) delays every timer, heartbeats included. The liveness probe reports it."""

from __future__ import annotations

import asyncio
from collections import deque


class LoopLag:
    """Measures, every ``interval`` real seconds, how much later than asked a timer fires;
    keeps the measurements of the last ``window`` seconds.

    Real time on purpose (the loop's own clock, not the app's): the lag of a loop is a fact
    of the process, and a fake clock in tests would never see it.
    """

    def __init__(self, *, interval: float = 0.25, window: float = 10.0) -> None:
        self.interval = interval
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()  # (loop time, lag)
        self._last_tick: float | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin measuring in a task on the running loop (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._measure(), name="rota-loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        self._last_tick = loop.time()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.interval)
            now = loop.time()
            self._last_tick = now
            self._samples.append((now, max(0.0, now - asked - self.interval)))
            while self._samples and self._samples[0][0] < now - self.window:
                self._samples.popleft()

    def worst(self) -> float:
        """The largest lag (seconds) of the window, including the one running now (a timer
        that is late at this very moment)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        late = 0.0 if self._last_tick is None else max(0.0, now - self._last_tick - self.interval)
        return max([late, *(lag for at, lag in self._samples if at >= now - self.window)])
