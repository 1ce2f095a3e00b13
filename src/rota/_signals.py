"""The control signals a handler raises to steer its own job; they are not errors.

Retry(after=...)   run this job again later; spends an attempt
Cancel(reason)     stop this job for good; status becomes ``cancelled``
"""

from __future__ import annotations

from datetime import timedelta

from rota._errors import ConfigError
from rota._limits import duration


class ControlSignal(Exception):
    """Base of the signals a handler raises to steer its own job."""


class Retry(ControlSignal):
    """Raised by a handler: run the job again after ``after`` (seconds or timedelta).

    The attempt counts against the task's attempt budget; after the last attempt the job
    is dead (``failed``) like any other failure. ``after=None`` uses the task's retry policy.
    """

    def __init__(self, after: float | timedelta | None = None, reason: str = "") -> None:
        if after is not None:
            # checked here, in the handler that raises it: a NaN or infinite delay would
            # otherwise reach the worker, which could never schedule the retry
            after = duration(after, "Retry(after=...)")
        if not isinstance(reason, str):
            raise ConfigError(f"Retry(reason=...) must be a string, got {type(reason).__name__}")
        self.after: float | None = after
        self.reason = reason
        super().__init__(reason or (f"retry after {after}s" if after is not None else "retry"))


class Cancel(ControlSignal):
    """Raised by a handler: stop this job for good (status ``cancelled``, no more attempts)."""

    def __init__(self, reason: str = "") -> None:
        if not isinstance(reason, str):
            raise ConfigError(f"Cancel(reason) must be a string, got {type(reason).__name__}")
        self.reason = reason
        super().__init__(reason or "cancelled by handler")
