"""Time-ordered job ids: 48 bits of milliseconds then 80 random bits, as 32 hex digits (UUIDv7 layout)."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    # version 7 and RFC 4122 variant bits, so the id is a valid UUIDv7
    value = (ms << 80) | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return f"{value:032x}"
