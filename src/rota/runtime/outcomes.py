"""What an attempt's end means for its job: pure functions from a handler's outcome to the
``Finish`` the store records (retry or dead, the delay, the error, the result)."""

from __future__ import annotations

import logging
import random
import traceback
from datetime import datetime, timedelta
from typing import Any

from rota._errors import PayloadError
from rota._models import ErrorInfo, Finish, Job, Outcome
from rota._retry import DEFAULT_RETRY, RetryPolicy
from rota._serde import encode_json

log = logging.getLogger("rota.worker")


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
    it was the job's last attempt or the failure is permanent."""
    if permanent or job.attempts >= job.max_attempts:
        return Finish(job.id, job.token, outcome, error=error)
    delay = after if after is not None else (policy or DEFAULT_RETRY).delay(job.attempts, rng)
    return Finish(job.id, job.token, outcome, retry_at=now + timedelta(seconds=delay), error=error)


def error_info(exc: BaseException) -> ErrorInfo:
    """The attempt record's view of an exception: type, message and traceback."""
    return ErrorInfo(
        type=type(exc).__qualname__, message=str(exc), traceback="".join(traceback.format_exception(exc))
    )


def encode_result(result: Any) -> bytes | None:
    """A handler's return value as JSON, or None (not stored) when it is not encodable."""
    if result is None:
        return None
    try:
        return encode_json(result)
    except PayloadError:
        log.warning("job result of type %s is not JSON-encodable; not stored", type(result).__name__)
        return None
