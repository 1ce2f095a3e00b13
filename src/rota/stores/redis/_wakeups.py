"""Cross-process wake-ups: the scripts PUBLISH on ``N:wake:jobs`` / ``N:wake:sch`` when
they make work runnable; one subscriber task per store turns those messages into the
store's local events, so idle workers block instead of polling."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from redis import exceptions as rex

from rota.stores.redis._config import RedisConfig
from rota.stores.redis._connection import TRANSIENT

_SUBSCRIBE_TIMEOUT = 5.0  # seconds
_CLOSE_TIMEOUT = 2.0
_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT, rex.RedisError)


class Wakeup:
    """The subscriber that turns the scripts' PUBLISH messages into this store's events."""

    def __init__(
        self,
        config: RedisConfig,
        channels: dict[str, asyncio.Event],
        relays: dict[str, Callable[[str | None], None]] | None = None,
    ) -> None:
        self._config = config
        self._channels = {name.encode(): event for name, event in channels.items()}
        #: channels whose message text matters (the ended jobs' ids): passed on, '' as None
        self._relays = {name.encode(): relay for name, relay in (relays or {}).items()}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def ensure(self) -> bool:
        """Start listening; True the first time (the caller must re-check: messages sent
        before the subscription took effect were not heard)."""
        first = self._task is None
        if first:
            self._task = asyncio.create_task(self._listen(), name="rota-redis-wakeup")
        # bounded: a server that never confirms must not hang the caller (it re-checks anyway)
        if not self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_SUBSCRIBE_TIMEOUT):
                    await self._ready.wait()
        return first

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # bounded: closing a pub/sub connection cancelled mid-read can stall in the driver,
            # and a stuck subscriber must never keep a worker from exiting
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                async with asyncio.timeout(_CLOSE_TIMEOUT):
                    await task

    def _wake_all(self) -> None:
        for event in self._channels.values():
            event.set()
        for relay in self._relays.values():
            relay(None)

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            client = self._config.subscriber()
            pubsub: Any = client.pubsub()
            try:
                await pubsub.subscribe(*self._channels, *self._relays)
                confirmed = 0
                async for msg in pubsub.listen():
                    if msg["type"] == "subscribe":
                        confirmed += 1
                        if confirmed == len(self._channels) + len(self._relays):
                            delay = 0.1
                            self._ready.set()
                    elif msg["type"] == "message":
                        event = self._channels.get(msg["channel"])
                        if event is not None:
                            event.set()
                        relay = self._relays.get(msg["channel"])
                        if relay is not None:
                            relay(_text(msg["data"]))
                self._wake_all()  # the subscription ended without an error: re-check, resubscribe
            except _ERRORS:
                # an outage: wake every waiter so it re-checks (and meets StoreUnavailable)
                self._wake_all()
                self._ready.set()
            finally:
                with contextlib.suppress(*_ERRORS):
                    await pubsub.aclose()
                    await client.aclose()
            await asyncio.sleep(delay)  # reconnect backoff, not a wait for a condition
            delay = min(delay * 2, 5.0)


def _text(data: object) -> str | None:
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    return data if isinstance(data, str) and data else None
