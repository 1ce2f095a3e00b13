"""Distributed locks with fencing tokens, and the per-key locks of ``@app.task(lock=...)``.

``async with app.lock("reports:daily", ttl=30) as held:`` waits for the named lease, renews
it in the background every ttl/3 and, if it is lost anyway (taken over after a pause, store
unreachable past the safety margin), cancels the block, which then raises ``LockLost``.
``held.fence`` goes on writes the lock guards (``Finish(fence=...)``, ``FireCommit(fence=...)``)
so the store refuses them once the lock has moved on: losing the lock is detected locally as
soon as possible, and enforced by the store always.

Lock leases are named ``lock:<name>``; each acquisition has its own owner
(``<instance id>/<random>``), so two holders in one process exclude each other too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import TracebackType
from typing import Any, Unpack

from rota import _limits
from rota._clock import Clock
from rota._convert import seconds
from rota._errors import ConfigError, LockLost, PayloadError
from rota._ids import new_id
from rota._limits_spec import KeyTemplate
from rota._models import Fence
from rota.runtime._keeper import LeaseKeeper, acquire_waiting
from rota.runtime.context import Handler, RuntimeContext
from rota.runtime.settings import LeaseOptions, LeaseTiming
from rota.stores.base import Store

log = logging.getLogger("rota.locks")

LOCK_PREFIX = "lock:"


def lock_owner(instance_id: str) -> str:
    """A fresh owner id for one acquisition: the instance id, then a random suffix."""
    return f"{instance_id}/{new_id()[-8:]}"


class Lock:
    """One acquisition of a named distributed lock; use as ``async with``.

    ``timeout``: seconds to wait for the lock (None: forever; 0: one try); on expiry
    ``TimeoutError`` is raised. The lease's timing comes as ``LeaseOptions`` keywords
    (``ttl``, ``renew_interval``, ``safety_margin``, ``retry_interval``: how often a waiter
    retries, default the renew interval capped at 1 s; it also wakes when the holder's lease is
    due to expire). ``app.lock(...)`` builds one on the app's store.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        name: str,
        *,
        owner: str,
        timeout: float | timedelta | None = None,
        opener: Callable[[], Awaitable[object]] | None = None,
        **timing: Unpack[LeaseOptions],
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"lock name must be a non-empty string, got {name!r}")
        _limits.name(name, "lock name")
        lease = LeaseTiming.build(f"lock {name!r}", **timing)
        if timing.get("retry_interval") is None:
            lease = dataclasses.replace(lease, retry_interval=min(1.0, lease.renew_interval))
        self.name = name
        self.timeout = None if timeout is None else seconds(timeout, "lock timeout")
        if self.timeout is not None and self.timeout < 0:
            raise ConfigError(f"lock timeout must not be negative, got {self.timeout:g}s")
        self._keeper = LeaseKeeper(store, clock, name=LOCK_PREFIX + name, owner=owner, timing=lease)
        self._opener = opener
        self._renewer: asyncio.Task[None] | None = None
        self._host: asyncio.Task[Any] | None = None
        self._cancelling = 0
        self.lost = False

    @classmethod
    def of(
        cls,
        context: RuntimeContext,
        name: str,
        *,
        timeout: float | timedelta | None = None,
        **timing: Unpack[LeaseOptions],
    ) -> Lock:
        """A lock on the context's store and clock, owned by a fresh id of its instance."""
        return cls(
            context.store, context.clock, name, owner=lock_owner(context.instance_id), timeout=timeout,
            opener=context.open, **timing,
        )  # fmt: skip

    @property
    def retry_interval(self) -> float:
        return self._keeper.timing.retry_interval

    def __repr__(self) -> str:
        return f"<Lock {self.name!r} token={self.token} held={self.held}>"

    @property
    def owner(self) -> str:
        return self._keeper.owner

    @property
    def held(self) -> bool:
        """Held and within its safety deadline (local; no round trip)."""
        return self._keeper.valid

    @property
    def token(self) -> int | None:
        """The fencing token while held, else None. Strictly higher than any earlier holder's."""
        lease = self._keeper.lease
        return lease.token if lease is not None and self.held else None

    @property
    def fence(self) -> Fence | None:
        """Put this on writes the lock guards; None when not held."""
        return self._keeper.fence

    async def acquire(self) -> Lock:
        """Wait for the lock (up to ``timeout``); raises ``TimeoutError`` if it stays taken."""
        if self._keeper.lease is not None:
            raise RuntimeError(f"lock {self.name!r} is already acquired by this Lock object")
        if self._opener is not None:
            await self._opener()
        self.lost = False
        try:
            taken = await acquire_waiting(self._keeper, timeout=self.timeout)
        except asyncio.CancelledError:
            # an acquire may have reached the store just before the cancellation; give it back
            await asyncio.shield(self._keeper.release_quietly())
            raise
        if not taken:
            raise TimeoutError(f"lock {self.name!r} still held by another owner after {self.timeout:g}s")
        return self

    async def release(self) -> bool:
        """Stop renewing and release the lock; True if it was still ours. Idempotent."""
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
        return await self._keeper.release_quietly()

    async def __aenter__(self) -> Lock:
        await self.acquire()
        self._host = asyncio.current_task()
        self._cancelling = self._host.cancelling() if self._host is not None else 0
        self._renewer = asyncio.create_task(self._keep(), name=f"rota-lock-{self.name}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        lost = self.lost
        await self.release()
        # we cancelled the block (uncancel() is always called then); unless the caller is
        # cancelling it too, or the block raised something else, that becomes LockLost
        if (
            lost
            and self._host is not None
            and self._host.uncancel() <= self._cancelling
            and (exc_type is None or issubclass(exc_type, asyncio.CancelledError))
        ):
            raise LockLost(f"lock {self.name!r} was lost while held") from exc

    async def _keep(self) -> None:
        await self._keeper.keep()
        self.lost = True
        log.warning("lock %s lost while held by %s; cancelling the guarded block", self.name, self.owner)
        if self._host is not None:
            self._host.cancel(msg=f"lock {self.name!r} lost")


# -- task locks (@app.task(lock="invoice:{customer_id}")) ------------------------------------


@functools.lru_cache(maxsize=1024)
def _lock_template(template: str) -> KeyTemplate:
    """A task's lock key as a key template, parsed once (the rules and messages of the limit
    keys': rota._limits_spec.KeyTemplate)."""
    return KeyTemplate(template, "lock key")


def task_lock_key(task: Handler, payload: object) -> str | None:
    """The lock key of one run: ``task.lock`` formatted with the payload's fields
    (dataclass, pydantic, TypedDict/dict, msgspec Struct, NamedTuple), or ``{payload}`` for the
    whole payload. None when the task has no lock. Raises ``PayloadError`` for a missing field
    (the job fails for good: no later attempt could format it either)."""
    template = task.lock
    if template is None:
        return None
    try:
        lock_key = _lock_template(template)
    except ConfigError as exc:  # declared before templates were checked at declaration
        raise PayloadError(str(exc)) from None
    return lock_key.format(payload, task.name)


class TaskLock:
    """A task lock held by one run: renewed in the background; ``on_lost`` is called if it is
    lost while held. ``close()`` stops renewing and releases it (call it once the run's
    outcome is durable, since that outcome is fenced by this lock)."""

    def __init__(self, keeper: LeaseKeeper, key: str, on_lost: Callable[[], None]) -> None:
        self.key = key
        self._keeper = keeper
        self._on_lost = on_lost
        self._renewer: asyncio.Task[None] | None = asyncio.create_task(self._keep(), name=f"rota-lock-{key}")
        self._closing: asyncio.Task[bool] | None = None
        lease = keeper.lease
        assert lease is not None, "a TaskLock is built from a taken lease"
        # fixed for the whole run: once the lease moves on, writes carrying it can only fail
        self.fence = Fence(lease.name, lease.owner, lease.token)

    def close(self) -> None:
        """Stop renewing and release in the background (idempotent, safe from sync code)."""
        if self._closing is not None:
            return
        if self._renewer is not None:
            self._renewer.cancel()
        self._closing = asyncio.ensure_future(self._close())

    async def _close(self) -> bool:
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            await asyncio.gather(renewer, return_exceptions=True)
        return await self._keeper.release_quietly()

    async def _keep(self) -> None:
        await self._keeper.keep()
        log.warning("task lock %s lost while its job ran; stopping the run", self.key)
        self._on_lost()


async def acquire_task_lock(
    context: RuntimeContext,
    task: Handler,
    payload: object,
    *,
    owner: str,
    ttl: float,
    wait: float,
    on_lost: Callable[[], None],
) -> TaskLock | None:
    """Take the lock of one run of ``task`` (None when the task has no lock: run freely).

    Waits up to ``wait`` seconds for a busy key (retrying every second at most), then raises
    ``LockBusy`` so the caller gives the job back without spending an attempt. ``owner``
    should name the run (worker and job), so the lease shows who holds the key; the lease
    lasts ``ttl`` seconds. Raises ``PayloadError`` when the key cannot be formatted.
    """
    key = task_lock_key(task, payload)
    if key is None:
        return None
    timing = LeaseTiming.build(f"task lock {key!r}", ttl=ttl, retry_interval=min(1.0, max(wait, 0.001)))
    keeper = LeaseKeeper(context.store, context.clock, name=LOCK_PREFIX + key, owner=owner, timing=timing)
    try:
        taken = await acquire_waiting(keeper, timeout=wait)
    except asyncio.CancelledError:
        await asyncio.shield(keeper.release_quietly())
        raise
    if not taken:
        raise LockBusy(key)
    return TaskLock(keeper, key, on_lost)


class LockBusy(Exception):
    """The key of a task lock stayed held by another run for the whole wait (internal signal:
    the worker gives the job back; it is not an error of the job)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"lock {key!r} is held by another run")
