"""A page of the job list as a user asks for it (query parameters of a page or of the API):
its filters, checked, its order, and the opaque cursor that pages it."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal

from rota import _limits
from rota._errors import ConfigError
from rota._models import JobStatus

Order = Literal["newest", "oldest"]


@dataclass(frozen=True, slots=True)
class JobQuery:
    """A page of the job list: the filters, the order, and where the page starts."""

    status: JobStatus | None = None
    queue: str | None = None
    task: str | None = None
    schedule: str | None = None
    key: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    order: Order = "newest"
    limit: int = 50
    cursor: str | None = None

    @classmethod
    def build(cls, **given: Any) -> JobQuery:
        """From user input (query parameters); ConfigError names what is wrong."""
        values = {k: v for k, v in given.items() if v not in (None, "")}
        if "status" in values:
            values["status"] = _limits.status(values["status"])
        for field in ("queue", "task", "schedule", "key"):
            if field in values:
                _limits.name(values[field], field)
        for field in ("since", "until"):
            if field in values:
                values[field] = parse_time(values[field], field)
        if values.get("order", "newest") not in ("newest", "oldest"):
            raise ConfigError(f"order must be newest or oldest, got {values['order']!r}")
        values["limit"] = _limits.integer(values.get("limit", 50), "limit", minimum=1, maximum=500)
        return cls(**values)

    def params(self, **change: Any) -> dict[str, str]:
        """The query parameters of this page (with ``change``), for links."""
        out: dict[str, str] = {}
        for field in (f.name for f in fields(self)):
            value = change[field] if field in change else getattr(self, field)
            if value is None:
                continue
            out[field] = value.isoformat() if isinstance(value, datetime) else str(value)
        return out


def parse_time(value: object, what: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC (the pages show times in UTC)."""
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"{what} must be an ISO 8601 time such as 2030-01-31T12:00, got {value!r}"
            ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return _limits.instant(when, what)


def encode_cursor(job_id: str, order: Order, direction: str) -> str:
    raw = json.dumps({"id": job_id, "o": order, "d": direction}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: Order) -> tuple[str, str]:
    """(job id, "next" or "prev") of a cursor this API gave for ``order``; ConfigError else."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        job_id, cursor_order, direction = data["id"], data["o"], data["d"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise ConfigError(
            "cursor is not one this API gave (take next_cursor or prev_cursor of a page)"
        ) from None
    if (
        not isinstance(job_id, str)
        or direction not in ("next", "prev")
        or cursor_order not in ("newest", "oldest")
    ):
        raise ConfigError("cursor is not one this API gave (take next_cursor or prev_cursor of a page)")
    if cursor_order != order:
        raise ConfigError(f"this cursor pages the {cursor_order} first order, not {order} first")
    _limits.name(job_id, "cursor id")
    return job_id, direction
