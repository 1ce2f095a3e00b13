"""Leader election on a named lease with fencing tokens.

``election = app.leader_election(name="rota-scheduler", ttl=30)``; ``await election.start()``
campaigns in the background: it takes the lease ``leader:<name>`` when it is free, renews it
every ``renew_interval`` while leading, and otherwise retries every ``retry_interval`` (and at
the moment the current leader's lease is due to expire, so failover takes about one ttl).

``is_leader`` is local (no round trip) and turns False at ``acquired + ttl - safety_margin``
on the clock's monotonic time when renewals stall, before any other instance can take over.
That alone cannot stop a process paused mid-write, so writes made as leader carry
``election.fence``: the store applies them only while this term's lease is still current.
Each change of leader gets a strictly higher token. See docs/coordination.md.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Unpack

from rota import _limits
from rota._clock import Clock
from rota._errors import ConfigError, StoreUnavailable
from rota._models import Fence, Lease
from rota.runtime._keeper import LeaseKeeper, acquire_waiting
from rota.runtime.context import RuntimeContext
from rota.runtime.lifecycle import Service, Stopping
from rota.runtime.settings import DEFAULT_ELECTION, LeaseOptions, LeaseTiming, check_instance_id
from rota.stores.base import Store

log = logging.getLogger("rota.leader")

LEADER_PREFIX = "leader:"

#: ``on_elected``/``on_lost`` callbacks: sync or async, taking the term's LeaderInfo or nothing.
Callback = Callable[..., Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class LeaderInfo:
    """One leader's term: who (instance id), since when, its fencing token, its lease expiry."""

    id: str
    since: datetime
    token: int
    expires_at: datetime

    @classmethod
    def of(cls, lease: Lease) -> LeaderInfo:
        return cls(lease.owner, lease.acquired_at, lease.token, lease.expires_at)

    @property
    def host(self) -> str | None:
        """The host, for default instance ids (``host:pid:suffix``); None for custom ids."""
        parts = self.id.split(":")
        return parts[0] if len(parts) == 3 and parts[1].isdigit() else None


class LeaderElection(Service):
    """Campaigns for leadership of ``name`` on ``store`` as ``instance_id``; the lease's timing
    as ``LeaseOptions`` keywords (``ttl``, ``renew_interval``, ``retry_interval``,
    ``safety_margin``). ``app.leader_election(...)`` builds one on the app's store.

    Instance ids must be unique among the contenders (the default one is). Callbacks run
    one at a time, in order, in a task of their own (never blocking renewals): ``on_elected``
    once when a term starts, ``on_lost`` once when it ends (lost, expired locally, resigned).
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        instance_id: str,
        *,
        name: str = DEFAULT_ELECTION,
        opener: Callable[[], Awaitable[object]] | None = None,
        **timing: Unpack[LeaseOptions],
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"leader election name must be a non-empty string, got {name!r}")
        self.name = _limits.name(name, "leader election name")
        self.instance_id = check_instance_id(instance_id)
        self.timing = LeaseTiming.build("leader election", **timing)
        self.store = store
        self.clock = clock
        self._keeper = LeaseKeeper(
            store, clock, name=LEADER_PREFIX + name, owner=self.instance_id, timing=self.timing
        )
        self._opener = opener
        self._elected_cbs: list[Callback] = []
        self._lost_cbs: list[Callback] = []
        self._task: asyncio.Task[None] | None = None
        self._control = asyncio.Lock()
        self._term: LeaderInfo | None = None
        self._leading = asyncio.Event()
        self._queue: deque[tuple[tuple[Callback, ...], LeaderInfo]] = deque()
        self._dispatcher: asyncio.Task[None] | None = None
        self._resigning: asyncio.Task[bool] | None = None

    @classmethod
    def of(
        cls,
        context: RuntimeContext,
        *,
        name: str = DEFAULT_ELECTION,
        instance_id: str | None = None,
        **timing: Unpack[LeaseOptions],
    ) -> LeaderElection:
        """An election on the context's store and clock, as its instance (or ``instance_id``)."""
        return cls(
            context.store, context.clock, instance_id or context.instance_id, name=name,
            opener=context.open, **timing,
        )  # fmt: skip

    @property
    def retry_interval(self) -> float:
        """Seconds between a follower's attempts to take the lead."""
        return self.timing.retry_interval

    def __repr__(self) -> str:
        return f"<LeaderElection {self.name!r} {self.instance_id} leader={self.is_leader} token={self.token}>"

    # -- callbacks -----------------------------------------------------------------------

    def on_elected(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(info)`` (or ``callback()``) each time this instance becomes leader.
        Returns a function that unregisters it."""
        return _register(self._elected_cbs, callback)

    def on_lost(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(info)`` (or ``callback()``) each time a term of ours ends."""
        return _register(self._lost_cbs, callback)

    # -- local state (no round trip) -----------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether it is campaigning (started and not resigned)."""
        return self._task is not None and not self._task.done()

    @property
    def is_leader(self) -> bool:
        """Leading, and the term's safety deadline has not passed on the monotonic clock."""
        return self._term is not None and self._keeper.valid

    @property
    def term(self) -> LeaderInfo | None:
        """This instance's current term while leader, else None."""
        return self._term if self.is_leader else None

    @property
    def token(self) -> int | None:
        """The fencing token while leader, else None."""
        term = self.term
        return term.token if term is not None else None

    @property
    def fence(self) -> Fence | None:
        """Put this on writes made as leader (``FireCommit.fence``); None when not leader,
        in which case such writes must not be attempted."""
        return self._keeper.fence if self.is_leader else None

    @property
    def valid_until(self) -> float | None:
        """The clock's monotonic time at which ``is_leader`` turns False unless renewed."""
        return self._keeper.deadline if self.is_leader else None

    # -- control -------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the election. Makes one attempt before returning, so a free leadership is
        ours when this returns. Calling it while running does nothing."""
        async with self._control:
            if self.running:
                return
            if self._opener is not None:
                await self._opener()
            taken = False
            try:
                taken = await self._keeper.acquire() is not None
            except StoreUnavailable as exc:
                log.warning("election %s: store unavailable (%s); will keep trying", self.name, exc)
            if taken:
                self._begin()
            self._task = asyncio.create_task(self._campaign(taken), name=f"rota-election-{self.name}")

    async def resign(self) -> bool:
        """Stop campaigning and release the leadership now, if (and only if) we still hold
        it. ``on_lost`` has run when this returns. Safe to repeat; ``start()`` rejoins.
        Returns whether a lease was released."""
        async with self._control:
            task, self._task = self._task, None
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            self._end()
            held = self._keeper.drop()
            if held is None and task is not None:
                # an acquire may have reached the store just as we cancelled it
                current = await self._keeper.holder()
                held = current if current is not None and current.owner == self.instance_id else None
            released = await self._keeper.release_quietly(held) if held is not None else False
        await self._drain()
        return released

    def stop(self) -> Awaitable[None]:
        """Resign (in the background); await it to wait until the lease is released and the
        pending callbacks have run: the election is idle afterwards."""
        if self._resigning is None or self._resigning.done():
            self._resigning = asyncio.ensure_future(self.resign())
        resigning = self._resigning
        return Stopping(lambda: resigning)

    async def wait_until_leader(self) -> LeaderInfo:
        """Wait (without polling) until this instance leads; returns the term."""
        while True:
            term = self.term
            if term is not None:
                return term
            self._leading.clear()
            await self._leading.wait()

    async def leader(self) -> LeaderInfo | None:
        """Who leads now according to the store (a round trip), or None. May raise
        ``StoreUnavailable``."""
        lease = await self.store.get_lease(self._keeper.name, now=self.clock.now())
        return LeaderInfo.of(lease) if lease is not None else None

    # -- the campaign --------------------------------------------------------------------

    async def _campaign(self, taken: bool) -> None:
        while True:
            if taken and self._term is None:
                self._begin()
            if self._term is not None:
                await self._keeper.keep()
                self._end()
            if taken:
                # lost only locally (slow or failed renewals)? free it so another can lead
                await self._keeper.release_quietly(final=False)
            try:
                taken = await acquire_waiting(self._keeper, timeout=None)
            except Exception:
                log.exception("election %s: acquire failed", self.name)
                taken = False
                await self.clock.sleep(self.retry_interval)

    def _begin(self) -> None:
        """Start a term for the lease just taken, unless it is already past its deadline."""
        lease = self._keeper.lease
        if lease is None or not self._keeper.valid:
            return
        self._term = LeaderInfo.of(lease)
        log.info("%s leads %s (token %d)", self.instance_id, self.name, lease.token)
        self._leading.set()
        self._post(self._elected_cbs, self._term)

    def _end(self) -> None:
        term, self._term = self._term, None
        if term is None:
            return
        self._leading.clear()
        log.info("%s no longer leads %s (token %d)", self.instance_id, self.name, term.token)
        self._post(self._lost_cbs, term)

    def _post(self, callbacks: list[Callback], info: LeaderInfo) -> None:
        if not callbacks:
            return
        self._queue.append((tuple(callbacks), info))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name=f"rota-election-{self.name}-cb")

    async def _dispatch(self) -> None:
        while self._queue:
            callbacks, info = self._queue.popleft()
            for callback in callbacks:
                try:
                    result = callback(info) if _takes_argument(callback) else callback()
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("election %s: callback %r failed", self.name, callback)

    async def _drain(self) -> None:
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not asyncio.current_task():
            await asyncio.gather(dispatcher, return_exceptions=True)


def _register(callbacks: list[Callback], callback: Callback) -> Callable[[], None]:
    if not callable(callback):
        raise ConfigError(f"a callback must be callable, got {callback!r}")
    callbacks.append(callback)

    def unregister() -> None:
        if callback in callbacks:
            callbacks.remove(callback)

    return unregister


def _takes_argument(callback: Callback) -> bool:
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in positional or p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
