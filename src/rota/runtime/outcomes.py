"""What an attempt's end means for its job: pure functions from a handler's outcome to the
``Finish`` the store records (retry or dead, the delay, the error, the result)."""

from __future__ import annotations

import math
import random
import traceback
from datetime import datetime, timedelta
from typing import Any

from rota._errors import PayloadError, ResultError
from rota._models import ErrorInfo, Finish, Job, Outcome
from rota._retry import DEFAULT_RETRY, RetryPolicy
from rota._serde import encode_json


def failure(
    job: Job,
    policy: RetryPolicy | None,
    outcome: Outcome,
    error: ErrorInfo,
    *,
    now: datetime,
    rng: random.Random,
    after: float | None = None,
    permanent: bool = False,
) -> Finish:
    """A failed attempt: pending again after the policy's delay (or ``after``), or dead when
    it was the job's last attempt or the failure is permanent.

    A delay that is not a usable number of seconds (NaN, infinite, beyond the calendar, not a
    number; refused where it is declared, but a store or an old version may still hand one
    over) ends the job too, with the reason added to its error: retrying "at NaN" would leave
    it running forever. A negative delay retries at once.
    """
    if permanent or job.attempts >= job.max_attempts:
        return Finish(job.id, job.token, outcome, error=error)
    try:
        delay = after if after is not None else (policy or DEFAULT_RETRY).delay(job.attempts, rng)
        retry_at = now + timedelta(seconds=_seconds(delay))
    except (ArithmeticError, ValueError, TypeError) as exc:
        note = f"not retried: the retry delay is unusable ({exc})"
        message = f"{error.message} ({note})" if error.message else note
        return Finish(job.id, job.token, outcome, error=ErrorInfo(error.type, message, error.traceback))
    return Finish(job.id, job.token, outcome, retry_at=retry_at, error=error)


def _seconds(delay: object) -> float:
    if type(delay) is not int and type(delay) is not float:  # not bool, not a number-like
        raise TypeError(f"{delay!r} is not a number of seconds")
    seconds = float(delay)
    if not math.isfinite(seconds):
        raise ValueError(f"{delay!r} seconds")
    return max(0.0, seconds)


def error_info(exc: BaseException) -> ErrorInfo:
    """The attempt record's view of an exception: type, message and traceback (an exception
    whose ``str()`` itself fails still gives a record)."""
    try:
        message = str(exc)
    except Exception:
        message = f"<{type(exc).__qualname__}: str() failed>"
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception:
        text = None
    return ErrorInfo(type=type(exc).__qualname__, message=message, traceback=text)


def encode_result(result: Any, limit: int) -> bytes | None:
    """A handler's return value as JSON (None: a handler that returned None stores none).

    ``ResultError`` when it cannot be stored, so the attempt fails with a clear error instead
    of succeeding with its result silently lost: a value JSON cannot hold, or one larger than
    ``limit`` bytes encoded (the app's ``max_payload_bytes``)."""
    if result is None:
        return None
    try:
        data = encode_json(result)
    except (PayloadError, ValueError, TypeError, RecursionError) as exc:
        raise ResultError(
            f"the handler returned a {type(result).__qualname__}, which cannot be stored as a "
            f"result: {_reason(exc)}"
        ) from None
    if len(data) > limit:
        raise ResultError(
            f"the handler's result is {len(data):,} bytes encoded, over the limit of {limit:,} "
            "(App(max_payload_bytes=...) or ROTA_MAX_PAYLOAD_BYTES)"
        )
    return data


def _reason(exc: BaseException) -> str:
    try:
        return str(exc) or type(exc).__qualname__
    except Exception:
        return type(exc).__qualname__
