"""Retry policies: how long to wait before the next attempt. Pure maths, no I/O."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from rota import _limits
from rota._convert import freeze
from rota._errors import ConfigError

Backoff = Literal["fixed", "linear", "exponential", "backpressure"]
_BACKOFFS: tuple[Backoff, ...] = ("fixed", "linear", "exponential", "backpressure")


@dataclass(frozen=True, slots=True, init=False)
class RetryPolicy:
    """How many attempts a task gets and how long to wait between them.

    ``attempts`` is the total number of attempts (1 = never retry). The delay before attempt
    ``n + 1`` after a failed attempt ``n`` (n >= 1) is, before the cap:

    * ``fixed``: ``base``
    * ``linear``: ``base * n``
    * ``exponential``: ``base * 2 ** (n - 1)``
    * ``backpressure``: ``base * n ** 2`` (the Mongopher seed's formula)

    then ``min(delay, cap)``; with ``jitter`` the delay is drawn uniformly from ``[0, delay]``
    ("full jitter"), which spreads retries of many failing jobs apart.

    Limits: ``attempts`` an integer from 1 to 1,000,000; ``base`` and ``cap`` finite,
    non-negative, at most 100 years; ``jitter`` a bool. Anything else is a ``ConfigError``
    here, so a policy can never give the worker a delay it cannot schedule.
    """

    attempts: int
    backoff: Backoff
    base: float  # seconds
    cap: float  # seconds
    jitter: bool

    def __init__(
        self,
        attempts: int = 3,
        backoff: Backoff = "exponential",
        base: float | timedelta = 1.0,
        cap: float | timedelta = 300.0,
        jitter: bool = False,
    ) -> None:
        _limits.integer(attempts, "attempts", minimum=1, maximum=_limits.MAX_ATTEMPTS)
        if not isinstance(backoff, str) or backoff not in _BACKOFFS:
            raise ConfigError(f"backoff must be one of {', '.join(_BACKOFFS)}, got {backoff!r}")
        freeze(
            self, attempts=attempts, backoff=backoff, base=_limits.duration(base, "retry base"),
            cap=_limits.duration(cap, "retry cap"), jitter=_limits.flag(jitter, "jitter"),
        )  # fmt: skip

    def raw_delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based), capped, before jitter."""
        n = max(1, attempt)
        base = self.base
        if self.backoff == "fixed":
            delay = base
        elif self.backoff == "linear":
            delay = base * n
        elif self.backoff == "exponential":
            delay = base * 2.0 ** min(n - 1, 1000)  # 2.0 ** 1024 overflows
        else:
            delay = base * n * n
        return min(delay, self.cap)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The delay to use after failed attempt ``attempt``, jittered when asked."""
        delay = self.raw_delay(attempt)
        if self.jitter:
            delay = (rng or random).uniform(0.0, delay)
        return delay

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= self.attempts


#: What a task gets without ``retry=``, and what a worker applies to a job of a task it does
#: not know.
DEFAULT_RETRY = RetryPolicy()
