"""Turn a stored trigger string back into a trigger (the inverse of ``Trigger.dumps``)."""

from __future__ import annotations

import json
from datetime import datetime

from rota._errors import InvalidTrigger
from rota.triggers._at import At
from rota.triggers._base import Trigger
from rota.triggers._cron import Cron
from rota.triggers._interval import Every


def _instant(value: object, what: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidTrigger(f"stored trigger: {what} must be an ISO 8601 string")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidTrigger(f"stored trigger: {what} {value!r} is not ISO 8601") from None


def load_trigger(s: str) -> Trigger:
    """Rebuild the trigger that ``dumps`` wrote; ``InvalidTrigger`` for anything else."""
    try:
        data = json.loads(s)
    except (TypeError, ValueError):
        raise InvalidTrigger(f"stored trigger {s!r} is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidTrigger(f"stored trigger {s!r} is not a JSON object")
    keys = set(data)
    if keys == {"cron", "tz"}:
        return Cron(data["cron"], data["tz"])
    if keys == {"every", "start"}:
        start = None if data["start"] is None else _instant(data["start"], "start")
        return Every(data["every"], start=start)
    if keys == {"at"}:
        return At(_instant(data["at"], "at"))
    raise InvalidTrigger(f"stored trigger {s!r} is not a cron, interval or one-time trigger")
