"""The one lifecycle every runtime service shares (worker, scheduler, leader services, leader
election), as River's services do::

    await service.start()   begin in the background; returns once it runs (raises why not)
    service.stop()          ask it to stop; returns at once: safe from a signal handler
    await service.stop()    ask it to stop and wait until it has stopped
    async with service:     start() on the way in, await stop() on the way out

A service whose work is one coroutine (``LoopService``: worker, scheduler, leader services)
can also run in the foreground, ``await service.run()``, as ``rota worker`` does.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Self


class Stopping:
    """What ``stop()`` returns: the stop is already under way; await it to wait for the end.
    (Not a coroutine, so a caller that does not await it gets no "never awaited" warning.)"""

    __slots__ = ("_wait",)

    def __init__(self, wait: Callable[[], Awaitable[object]]) -> None:
        self._wait = wait

    def __await__(self) -> Generator[Any, None, None]:
        yield from self._wait().__await__()


class Service(ABC):
    """The shared shape: ``start()``, ``stop()``, ``async with``."""

    @abstractmethod
    async def start(self) -> None:
        """Begin in the background; returns once the service runs. Starting a running
        service does nothing."""

    @abstractmethod
    def stop(self) -> Awaitable[None]:
        """Ask the service to stop and return at once (idempotent); await the result to
        wait until it has stopped."""

    async def shutdown(self) -> None:
        """``await stop()``."""
        await self.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class LoopService(Service):
    """A service whose work is one coroutine, ``_serve()``: it calls ``_ready()`` once it
    serves, and returns once ``_request_stop()`` has asked it to."""

    def __init__(self, name: str) -> None:
        self._service_name = name
        self._main: asyncio.Task[None] | None = None
        self._serving = asyncio.Event()
        self._done = asyncio.Event()
        self._done.set()  # not running
        self._start_failed = False

    @abstractmethod
    async def _serve(self) -> None: ...

    @abstractmethod
    def _request_stop(self) -> None:
        """Make ``_serve`` wind down and return (synchronous: called from signal handlers)."""

    def _ready(self) -> None:
        self._serving.set()

    @property
    def serving(self) -> bool:
        """Whether it serves now: it has started and has not ended (readiness probes)."""
        return self._serving.is_set() and not self._done.is_set()

    async def wait_serving(self) -> None:
        """Wait until it serves (at once if it does)."""
        await self._serving.wait()

    async def run(self) -> None:
        """Serve in the foreground until stopped (what ``start()`` runs in a task)."""
        self._done.clear()
        try:
            await self._serve()
        finally:
            self._done.set()

    async def start(self) -> None:
        if self._main is not None:
            return
        main = self._main = asyncio.create_task(self.run(), name=self._service_name)
        ready = asyncio.ensure_future(self._serving.wait())
        try:
            await asyncio.wait([ready, main], return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if main.done() and not main.cancelled() and main.exception() is not None:
            self._start_failed = True
            main.result()  # failed to start: raise why

    def stop(self) -> Awaitable[None]:
        self._request_stop()
        return Stopping(self._stopped)

    async def _stopped(self) -> None:
        """Wait for the end; raise what ended the service, unless ``start()`` raised it."""
        if self._main is None:
            await self._done.wait()  # run() in the foreground, or never started
            return
        try:
            await self._main
        except Exception:
            if not self._start_failed:
                raise
