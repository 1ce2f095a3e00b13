"""Cross-process wake-ups for the MongoDB store: change streams, or polling with back-off.

Change streams need a replica set (or a sharded cluster); a standalone server and FerretDB
have none. Then every write that makes work appear bumps a counter document
(``<prefix>_meta``) and waiters poll it, starting at 50 ms and backing off to 1 s, waking
at once for changes made in this process. Waiters may wake spuriously; callers re-check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from rota.stores.mongodb._codec import Doc

log = logging.getLogger("rota.stores.mongodb")

CHANGE_STREAMS = "change streams"
POLLING = "polling"
_FIRST_POLL = 0.02  # the counter is one small document: polling it often is cheap
_MAX_POLL = 0.1  # idle pickup latency is about half the interval


def supports_change_streams(hello: Mapping[str, Any]) -> bool:
    """A replica set member (``setName``) or a mongos router (``msg: isdbgrid``)."""
    return "setName" in hello or hello.get("msg") == "isdbgrid"


class Wakeups:
    """Turns changes of the named collections into the store's events (``events``:
    collection name -> local event); ``start`` on open, ``stop`` on close."""

    def __init__(self, events: Mapping[str, asyncio.Event]) -> None:
        self._events = dict(events)
        self._seen: dict[str, int | None] = dict.fromkeys(self._events)
        self._task: asyncio.Task[None] | None = None
        self._meta: AsyncCollection[Doc] | None = None
        self.mode = POLLING

    async def start(
        self, db: AsyncDatabase[Doc], meta: AsyncCollection[Doc], hello: Mapping[str, Any]
    ) -> None:
        self._meta, self.mode = meta, POLLING
        self._seen = dict.fromkeys(self._events)
        if supports_change_streams(hello):
            pipeline = [
                {
                    "$match": {
                        "ns.coll": {"$in": list(self._events)},
                        "operationType": {"$in": ["insert", "update", "replace"]},
                    }
                }
            ]
            try:
                stream = await db.watch(pipeline, max_await_time_ms=1000)
            except PyMongoError as exc:
                log.warning("MongoDB change streams unavailable (%s); polling for wake-ups", exc)
            else:
                self.mode = CHANGE_STREAMS
                self._task = asyncio.create_task(self._follow(stream), name="rota-mongodb-changes")
        log.info("MongoDB store wake-ups: %s", self.mode)

    async def stop(self) -> None:
        self._meta = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self, stream: Any) -> None:
        try:
            async with stream:
                async for change in stream:
                    event = self._events.get(change.get("ns", {}).get("coll", ""))
                    if event is not None:
                        event.set()
        except PyMongoError as exc:
            # the driver already resumed what was resumable; from here on, poll
            log.warning("MongoDB change stream ended (%s); polling for wake-ups", exc)
            self.mode = POLLING
            for event in self._events.values():
                event.set()  # waiters re-check now rather than after their timeout

    async def publish(self, collection: str) -> None:
        """Tell other processes that ``collection`` changed (a no-op with change streams)."""
        if self.mode == POLLING and self._meta is not None:
            await self._meta.update_one({"_id": collection}, {"$inc": {"seq": 1}}, upsert=True)

    async def wait(self, collection: str, timeout: float) -> bool:
        event = self._events[collection]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        delay = _FIRST_POLL
        while True:
            if event.is_set():
                event.clear()
                return True
            if self.mode == POLLING and await self._changed(collection):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            step = min(delay, remaining) if self.mode == POLLING else remaining
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(step):
                    await event.wait()
            delay = min(delay * 2, _MAX_POLL)

    async def _changed(self, collection: str) -> bool:
        if self._meta is None:  # not started: this process's own changes only
            return False
        try:
            doc = await self._meta.find_one({"_id": collection})
        except PyMongoError:
            return True  # let the caller meet the outage through a real call
        seq = int(doc["seq"]) if doc is not None else 0
        before, self._seen[collection] = self._seen[collection], seq
        return before is not None and seq != before
