"""Time-ordered job ids: 48 bits of milliseconds then 80 random bits, as 32 hex digits (UUIDv7 layout)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def new_id() -> str:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    # version 7 and RFC 4122 variant bits, so the id is a valid UUIDv7
    value = (ms << 80) | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return f"{value:032x}"


def id_floor(when: datetime) -> str:
    """The id below every id made at or after ``when`` (to the millisecond) and above every
    id made before it, so that ``after_id=id_floor(t)`` selects the jobs enqueued from ``t``
    on and ``before_id=id_floor(t)`` those enqueued before it. ``when`` must be aware."""
    ms = max(0, (when - _EPOCH) // timedelta(milliseconds=1))  # integers: no float rounding
    return f"{ms:012x}" + "0" * 20
