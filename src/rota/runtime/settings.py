"""Coordination settings: leader election timing, leader-only execution, the instance id.

Validated once, at start-up, so a bad value is a one-line ``ConfigError`` and never a
leader that flaps. Built from keyword arguments or from the environment::

    ROTA_LEADER_ELECTION_ENABLED         true/false (default: on when the store is shared)
    ROTA_LEADER_ELECTION_NAME            the election's name (default "rota-scheduler")
    ROTA_LEADER_ELECTION_TTL             lease length, seconds (default 30; "500ms", "2m" accepted)
    ROTA_LEADER_ELECTION_RENEW_INTERVAL  default ttl/3
    ROTA_LEADER_ELECTION_RETRY_INTERVAL  how often followers try to take over (default ttl/3)
    ROTA_LEADER_ELECTION_SAFETY_MARGIN   default ttl/10
    ROTA_LEADER_ONLY_EXECUTION           true/false: followers execute no jobs (default false)
    ROTA_INSTANCE_ID                     this process's id (default host:pid:random)

An unknown ``ROTA_LEADER_ELECTION_*`` variable is an error, so a typo cannot silently fall
back to a default.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import TYPE_CHECKING

from rota._errors import ConfigError

if TYPE_CHECKING:
    from rota.stores.base import Store

DEFAULT_ELECTION = "rota-scheduler"
DEFAULT_TTL = 30.0

_PREFIX = "ROTA_LEADER_ELECTION_"
_ENV_FIELDS = {
    "ENABLED": "enabled",
    "NAME": "name",
    "TTL": "ttl",
    "RENEW_INTERVAL": "renew_interval",
    "RETRY_INTERVAL": "retry_interval",
    "SAFETY_MARGIN": "safety_margin",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|m)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """How one named lease is kept: its ``ttl``, how often it is renewed, and how long before
    its expiry the holder stops trusting it (``safety_margin``: covers clock skew between
    hosts and the delay between reading the clock and the store applying the write)."""

    ttl: float
    renew_interval: float
    safety_margin: float

    @classmethod
    def build(
        cls,
        ttl: float | timedelta,
        renew_interval: float | timedelta | None = None,
        safety_margin: float | timedelta | None = None,
        *,
        what: str = "lease",
    ) -> LeaseTiming:
        """Defaults: renew every ttl/3 (two more tries before the lease can lapse), trust it
        until ttl - ttl/10. Raises ``ConfigError`` unless 0 < renew + margin < ttl."""
        ttl_s = seconds(ttl, f"{what} ttl")
        renew = ttl_s / 3 if renew_interval is None else seconds(renew_interval, f"{what} renew interval")
        margin = ttl_s / 10 if safety_margin is None else seconds(safety_margin, f"{what} safety margin")
        if ttl_s < 0.003:
            raise ConfigError(f"{what} ttl must be at least 3 ms, got {ttl_s:g}s")
        if renew <= 0:
            raise ConfigError(f"{what} renew interval must be positive, got {renew:g}s")
        if margin <= 0:
            raise ConfigError(f"{what} safety margin must be positive, got {margin:g}s")
        if renew + margin >= ttl_s:
            raise ConfigError(
                f"{what} renew interval ({renew:g}s) plus safety margin ({margin:g}s) must be less "
                f"than the ttl ({ttl_s:g}s), or the holder would count the lease lost before renewing it"
            )
        return cls(ttl_s, renew, margin)


@dataclass(frozen=True, slots=True)
class LeaderSettings:
    """Leader election and leader-aware execution; durations in seconds or ``timedelta``.

    ``enabled=None`` means: on when the store is shared between processes (``store.shared``).
    ``leader_only_execution``: followers do not execute jobs at all (only the leader's worker
    claims), for deployments that want one active instance and hot standbys.
    """

    enabled: bool | None = None
    name: str = DEFAULT_ELECTION
    ttl: float | timedelta = DEFAULT_TTL
    renew_interval: float | timedelta | None = None
    retry_interval: float | timedelta | None = None
    safety_margin: float | timedelta | None = None
    leader_only_execution: bool = False
    instance_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"leader election name must be a non-empty string, got {self.name!r}")
        for flag in ("enabled", "leader_only_execution"):
            value = getattr(self, flag)
            if value is not None and not isinstance(value, bool):
                raise ConfigError(f"{flag} must be true or false, got {value!r}")
        timing = self.timing  # validates ttl, renew interval and margin together
        object.__setattr__(self, "ttl", timing.ttl)
        object.__setattr__(self, "renew_interval", timing.renew_interval)
        object.__setattr__(self, "safety_margin", timing.safety_margin)
        retry = (
            timing.ttl / 3 if self.retry_interval is None else seconds(self.retry_interval, "retry interval")
        )
        if retry <= 0:
            raise ConfigError(f"leader election retry interval must be positive, got {retry:g}s")
        object.__setattr__(self, "retry_interval", retry)
        if self.instance_id is not None:
            object.__setattr__(self, "instance_id", check_instance_id(self.instance_id))

    @property
    def timing(self) -> LeaseTiming:
        return LeaseTiming.build(self.ttl, self.renew_interval, self.safety_margin, what="leader election")

    @property
    def retry_seconds(self) -> float:
        return float(self.retry_interval)  # type: ignore[arg-type]  # normalised in __post_init__

    def election_enabled(self, store: Store) -> bool:
        """Whether to elect a leader on ``store``: as configured, else when it is shared."""
        return store.shared if self.enabled is None else self.enabled

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> LeaderSettings:
        """Settings from ``ROTA_*`` variables; keyword ``overrides`` win over the environment.

        Raises ``ConfigError`` naming the variable for a bad value or an unknown
        ``ROTA_LEADER_ELECTION_*`` name.
        """
        env = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(
                f"unknown leader settings {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values: dict[str, object] = {}
        for var, raw in env.items():
            if not var.startswith(_PREFIX):
                continue
            key = var[len(_PREFIX) :]
            if key not in _ENV_FIELDS:
                names = ", ".join(_PREFIX + k for k in _ENV_FIELDS)
                raise ConfigError(f"unknown setting {var}; known: {names}")
            values[_ENV_FIELDS[key]] = _parse(var, _ENV_FIELDS[key], raw)
        if "ROTA_LEADER_ONLY_EXECUTION" in env:
            values["leader_only_execution"] = parse_bool(
                "ROTA_LEADER_ONLY_EXECUTION", env["ROTA_LEADER_ONLY_EXECUTION"]
            )
        instance = env.get("ROTA_INSTANCE_ID", "")
        if instance.strip():  # empty means unset, as for App
            values["instance_id"] = check_instance_id(instance, source="ROTA_INSTANCE_ID")
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _parse(var: str, field_name: str, raw: str) -> object:
    if field_name == "enabled":
        return parse_bool(var, raw)
    if field_name == "name":
        return raw.strip()
    return parse_duration(var, raw)


def parse_bool(var: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{var} must be true or false, got {raw!r}")


def parse_duration(var: str, raw: str) -> float:
    """Seconds from ``"30"``, ``"2.5s"``, ``"500ms"`` or ``"2m"``."""
    match = _DURATION.match(raw)
    if match is None:
        raise ConfigError(f"{var} must be a duration such as 30, 2.5s, 500ms or 2m, got {raw!r}")
    return float(match.group(1)) * _UNIT[match.group(2)]


def seconds(value: float | timedelta, what: str) -> float:
    """A duration in seconds from a number or ``timedelta``; ``ConfigError`` for anything else."""
    if isinstance(value, timedelta):
        result = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
    else:
        raise ConfigError(f"{what} must be seconds or a timedelta, got {value!r}")
    if not math.isfinite(result):
        raise ConfigError(f"{what} must be finite, got {value!r}")
    return result


def check_instance_id(value: str, *, source: str = "instance_id") -> str:
    """An instance id is a non-empty string without whitespace (it appears in leases and logs)."""
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise ConfigError(f"{source} must be a non-empty string without spaces, got {value!r}")
    return value.strip()
