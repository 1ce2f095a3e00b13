"""Text and numbers at the boundary turned into rota's one inside form: durations are seconds
as ``float``, switches are ``bool``. Every setting from an argument, a URL option or an
environment variable goes through here, so ``"2m"``, ``timedelta(minutes=2)`` and ``120``
mean the same everywhere and a bad value is one ``ConfigError`` naming its source."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from rota import _limits
from rota._errors import ConfigError

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})

_NUMBER = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_DURATION = re.compile(rf"^\s*({_NUMBER})\s*(ms|s|m)?\s*$")
# Go's time.ParseDuration form, which the seed systems' values use: "1m30s", "1h", "250ms"
# (plus "d" for days, which Go lacks but retention periods want)
_GO_DURATION = re.compile(rf"^(?:{_NUMBER}(?:ns|us|µs|ms|s|m|h|d))+$")
_GO_PART = re.compile(rf"({_NUMBER})(ns|us|µs|ms|s|m|h|d)")
_UNIT = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0,
    None: 1.0,
}  # fmt: skip


def parse_bool(what: str, raw: str) -> bool:
    """``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case); ``what`` names the source in
    the error (an environment variable, a URL option)."""
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(f"{what} must be true or false, got {raw!r}")


def parse_duration(what: str, raw: str) -> float:
    """Seconds from ``"30"``, ``"2.5s"``, ``"500ms"``, ``"2m"`` or Go's ``"1m30s"``, ``"1h"``
    (and ``"7d"``)."""
    match = _DURATION.match(raw)
    if match is not None:
        value = float(match.group(1)) * _UNIT[match.group(2)]
    elif _GO_DURATION.match(raw.strip()):
        value = sum(float(n) * _UNIT[u] for n, u in _GO_PART.findall(raw.strip()))
    else:
        raise ConfigError(f"{what} must be a duration such as 30, 2.5s, 500ms, 2m or 1m30s, got {raw!r}")
    return _limits.duration(value, what)


def seconds(value: float | timedelta, what: str) -> float:
    """A duration in seconds from a number or ``timedelta``, finite and at most 100 years
    either way (callers check the sign); ``ConfigError`` for anything else."""
    return _limits.duration(value, what, minimum=-math.inf)


def freeze(obj: object, **values: object) -> None:
    """Set the fields of a frozen dataclass from its own ``__init__`` (settings classes take
    durations as seconds or ``timedelta`` and keep the converted seconds)."""
    for name, value in values.items():
        object.__setattr__(obj, name, value)
