"""Keeping one named lease: take it, renew it, and know locally when it must count as lost.

Leader election and locks both stand on this. The rule that makes them safe:

* the holder reads the clock's monotonic time ``m`` and wall time ``now`` *before* sending
  an acquire or renew; the store makes the lease expire at ``now + ttl``;
* the holder trusts the lease only until ``m + ttl - safety_margin`` (its *deadline*),
  whether or not later renewals got through. A pause, a slow store or an outage can only
  make the holder stop trusting it earlier than the store expires it, never later;
* every write made on the lease's behalf carries its ``Fence`` (name, owner, token), which
  the store checks in the same atomic step, so a holder that was paused past its deadline
  (and did not notice) is still refused once anyone else has taken the lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from rota._clock import Clock
from rota._errors import StoreUnavailable
from rota._models import Fence, Lease
from rota.runtime.resilience import OUTAGES, backoff_delays
from rota.runtime.settings import LeaseTiming
from rota.stores.base import Store

log = logging.getLogger("rota.leases")
T = TypeVar("T")

_retry_delay = backoff_delays()
#: Deadlines are compared with this slack (the resolution of datetimes): float sums of
#: monotonic seconds must not leave a "still valid for 1e-12 s" that is slept on forever.
EPS = 1e-6


class _Late(Exception):
    """The deadline passed before the store answered."""


class LeaseKeeper:
    """Holds (at most) one term of the named lease ``name`` for ``owner``.

    Not safe to share between concurrent callers: one task drives it at a time.
    """

    def __init__(self, store: Store, clock: Clock, *, name: str, owner: str, timing: LeaseTiming) -> None:
        self.store = store
        self.clock = clock
        self.name = name
        self.owner = owner
        self.timing = timing
        self._ttl = timedelta(seconds=timing.ttl)
        #: The lease of the current (or last) term; stays set after a loss so it can be released.
        self.lease: Lease | None = None
        #: Monotonic time until which the lease may be trusted; -inf when not held.
        self.deadline = float("-inf")
        self._renewed_at = float("-inf")  # monotonic time of the last successful request

    # -- local view (no round trip) ------------------------------------------------------

    @property
    def valid(self) -> bool:
        """Held, and the deadline has not passed on the monotonic clock."""
        return self.lease is not None and self.remaining() > EPS

    @property
    def fence(self) -> Fence | None:
        lease = self.lease
        if lease is None or not self.valid:
            return None
        return Fence(lease.name, lease.owner, lease.token)

    def remaining(self) -> float:
        """Seconds until the deadline (negative once passed)."""
        return self.deadline - self.clock.monotonic()

    def drop(self) -> Lease | None:
        """Stop trusting the lease now; returns it (for a release) if there was one."""
        lease, self.lease = self.lease, None
        self.deadline = float("-inf")
        return lease

    # -- store calls ---------------------------------------------------------------------

    async def acquire(self) -> Lease | None:
        """One attempt to take the lease. Raises what the store raises."""
        started, now = self.clock.monotonic(), self.clock.now()
        try:
            lease = await self.store.acquire_lease(self.name, owner=self.owner, ttl=self._ttl, now=now)
        except StoreUnavailable as exc:
            self._unavailable("acquire", exc)
            raise
        self._answered("acquire")
        if lease is not None:
            self._hold(lease, started)
        return lease

    async def keep(self) -> None:
        """Renew every ``renew_interval`` until the lease is lost, then return.

        Lost: the store refuses a renewal (another owner, or it expired), or the deadline
        passes before a renewal gets through (failures are retried with backoff meanwhile).
        On return ``valid`` is False; ``lease`` is kept for ``release_quietly``.
        """
        failures = 0
        while self.lease is not None:
            if failures:
                pause = min(_retry_delay(failures - 1), self.timing.renew_interval)
            else:
                pause = self._renewed_at + self.timing.renew_interval - self.clock.monotonic()
            pause = min(pause, self.remaining())
            if pause > EPS:
                await self.clock.sleep(pause)
            if self.remaining() <= EPS:
                log.warning(
                    "lease %s of %s expired locally before it could be renewed", self.name, self.owner
                )
                break
            renewed = await self._renew(self.lease)
            if renewed is None:
                failures += 1
            elif not renewed:
                break
            else:
                failures = 0
        self.deadline = float("-inf")

    async def _renew(self, lease: Lease) -> bool | None:
        """One renewal: True when it got through, False when the lease is lost (refused, or
        not answered before the deadline), None when it failed and may be retried."""
        started, now = self.clock.monotonic(), self.clock.now()
        call = self.store.renew_lease(self.name, owner=self.owner, token=lease.token, ttl=self._ttl, now=now)
        try:
            renewed = await before_deadline(self.clock, self.deadline, call)
        except _Late:
            log.warning("lease %s of %s: renewal did not complete in time", self.name, self.owner)
            return False
        except StoreUnavailable as exc:
            self._unavailable("renewal", exc)
            left = self.remaining()
            log.debug("lease %s: renewal failed (%s); %.1fs of validity left", self.name, exc, left)
            return None
        except Exception:
            log.exception("lease %s: renewal raised", self.name)
            return None
        self._answered("renewal")
        if renewed is None:
            log.warning("lease %s of %s was lost (taken over or expired)", self.name, self.owner)
            return False
        self._hold(renewed, started)
        return True

    async def release_quietly(self, lease: Lease | None = None, *, final: bool = True) -> bool:
        """Release the last term's lease (or ``lease``) if the store still has it as ours;
        never raises (an unreachable store lets it expire by itself). ``final``: the keeper
        is not used again (its part in a store outage ends here)."""
        held = self.drop()
        lease = lease or held
        try:
            if lease is None:
                return False
            try:
                released = await self.store.release_lease(
                    self.name, owner=self.owner, token=lease.token, now=self.clock.now()
                )
            except StoreUnavailable as exc:
                self._unavailable("release", exc)
                log.debug("could not release lease %s (%s); it expires by itself", self.name, exc)
                return False
            except Exception as exc:
                log.warning("could not release lease %s (%s); it expires by itself", self.name, exc)
                return False
            self._answered("release")
            return released
        finally:
            if final:
                OUTAGES.forget(self)

    async def holder(self) -> Lease | None:
        """The current holder, or None when free or when the store cannot be reached."""
        try:
            holder = await self.store.get_lease(self.name, now=self.clock.now())
        except StoreUnavailable as exc:
            self._unavailable("read", exc)
            return None
        except Exception as exc:
            log.warning("could not read lease %s (%s)", self.name, exc)
            return None
        self._answered("read")
        return holder

    # A store outage is logged once for the whole process (``OUTAGES``): this keeper is one
    # of the sites that meet it, from its first failure until it gets an answer again.

    def _unavailable(self, what: str, exc: BaseException) -> None:
        OUTAGES.failed(self, f"{what} of lease {self.name}", exc)

    def _answered(self, what: str) -> None:
        OUTAGES.recovered(self, f"{what} of lease {self.name}")

    def _hold(self, lease: Lease, started: float) -> None:
        self.lease = lease
        self._renewed_at = started
        self.deadline = started + self.timing.ttl - self.timing.safety_margin


async def before_deadline(clock: Clock, deadline: float, call: Awaitable[T]) -> T:
    """Await ``call`` unless the monotonic ``deadline`` passes first (then raise ``_Late`` and
    cancel it). An answer that arrives in the same instant as the deadline still counts:
    the caller judges it by the time it read before sending."""
    task = asyncio.ensure_future(call)
    remaining = deadline - clock.monotonic()
    if remaining <= EPS:
        task.cancel()
        raise _Late
    timer = asyncio.ensure_future(clock.sleep(remaining))
    answered = False
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        answered = task.done()
    finally:
        timer.cancel()
        if not task.done():
            task.cancel()
    if not answered or task.cancelled():
        raise _Late
    return task.result()


async def acquire_waiting(keeper: LeaseKeeper, *, timeout: float | None) -> bool:
    """Try to take the lease until it is ours or ``timeout`` seconds (None: forever) pass.

    Between attempts it sleeps the timing's ``retry_interval``, or less: until the holder's
    lease expires. Store outages are retried the same way. Returns whether it was taken.
    """
    clock = keeper.clock
    give_up = None if timeout is None else clock.monotonic() + timeout
    free_streak = 0
    taken = False
    try:
        while True:
            try:
                if await keeper.acquire() is not None:
                    taken = True
                    return True
                holder = await keeper.holder()
            except StoreUnavailable:
                holder = None  # the keeper logs the outage, once
                free_streak = 1  # no hot retry through an outage
            pause = keeper.timing.retry_interval
            if holder is not None:
                free_streak = 0
                until_expiry = (holder.expires_at - clock.now()).total_seconds()
                pause = min(pause, max(until_expiry, 0.0))
            elif free_streak == 0:
                # released between our two calls: try again at once, but only once in a row
                free_streak, pause = 1, 0.0
            if give_up is not None:
                left = give_up - clock.monotonic()
                if left <= EPS:
                    return False
                pause = min(pause, left)
            await clock.sleep(pause)
    finally:
        if not taken:
            OUTAGES.forget(keeper)  # given up or cancelled: no longer one of the outage's sites
