"""Coordination settings: leader election timing, leader-only execution, the instance id;
and ``AppConfig``, everything an ``App`` reads from its arguments and the environment.

Resolved once, when the App is built, in one place (``AppConfig.resolve``): an explicit
argument beats an environment variable, which beats the default. Services get the resolved
object and never read the environment themselves. A bad value is a one-line ``ConfigError``
at start-up, never a leader that flaps. The variables::

    ROTA_STORE_URL                       the store (default sqlite:///rota.db)
    ROTA_INSTANCE_ID                     this process's id (default host:pid:random)
    ROTA_MAX_PAYLOAD_BYTES               largest encoded payload (default 1 MiB; 512KiB, 4MiB)
    ROTA_LEADER_ELECTION_ENABLED         true/false (default: on when the store is shared)
    ROTA_LEADER_ELECTION_NAME            the election's name (default "rota-scheduler")
    ROTA_LEADER_ELECTION_TTL             lease length, seconds (default 30; "500ms", "2m", "1m30s")
    ROTA_LEADER_ELECTION_RENEW_INTERVAL  default ttl/3
    ROTA_LEADER_ELECTION_RETRY_INTERVAL  how often followers try to take over (default ttl/3)
    ROTA_LEADER_ELECTION_SAFETY_MARGIN   default ttl/10
    ROTA_LEADER_ONLY_EXECUTION           true/false: followers execute no jobs (default false)

The seed systems' names are accepted as aliases: ``LEADER_ELECTION_ENABLED``,
``LEADER_ELECTION_LOCK_TTL``, ``LEADER_ELECTION_RETRY_INTERVAL`` and
``LEADER_ELECTION_INSTANCE_ID``. An alias and its ``ROTA_`` name set to different values is an
error; so is an unknown ``ROTA_LEADER_ELECTION_*`` variable, so a typo cannot silently fall
back to a default. Another ``LEADER_ELECTION_*`` variable is logged as not used.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import TYPE_CHECKING

from rota import _limits
from rota._convert import parse_bool, parse_duration, seconds
from rota._errors import ConfigError
from rota._ids import new_id

if TYPE_CHECKING:
    from rota.stores.base import Store

log = logging.getLogger("rota.settings")

DEFAULT_ELECTION = "rota-scheduler"
DEFAULT_TTL = 30.0
DEFAULT_STORE_URL = "sqlite:///rota.db"

_PREFIX = "ROTA_LEADER_ELECTION_"
_ENV_FIELDS = {
    "ENABLED": "enabled",
    "NAME": "name",
    "TTL": "ttl",
    "RENEW_INTERVAL": "renew_interval",
    "RETRY_INTERVAL": "retry_interval",
    "SAFETY_MARGIN": "safety_margin",
}
#: the seed systems' variable -> rota's (docs/coordination.md lists both)
ALIASES = {
    "LEADER_ELECTION_ENABLED": "ROTA_LEADER_ELECTION_ENABLED",
    "LEADER_ELECTION_LOCK_TTL": "ROTA_LEADER_ELECTION_TTL",
    "LEADER_ELECTION_RETRY_INTERVAL": "ROTA_LEADER_ELECTION_RETRY_INTERVAL",
    "LEADER_ELECTION_INSTANCE_ID": "ROTA_INSTANCE_ID",
}
_SEED_PREFIX = "LEADER_ELECTION_"
_PAYLOAD_SIZE = re.compile(r"^\s*([0-9]{1,12})\s*(KiB|MiB|B)?\s*$")


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
        _limits.name(self.name, "leader election name")
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
        """Settings from the environment (``ROTA_*`` names and the seed aliases); keyword
        ``overrides`` win over the environment.

        Raises ``ConfigError`` naming the variable for a bad value, an unknown
        ``ROTA_LEADER_ELECTION_*`` name, or an alias that disagrees with its ``ROTA_`` name.
        """
        env, source = canonical_env(os.environ if environ is None else environ)
        return cls.from_canonical_env(env, source, **overrides)

    @classmethod
    def from_canonical_env(
        cls, env: Mapping[str, str], source: Mapping[str, str], **overrides: object
    ) -> LeaderSettings:
        """``from_env`` on what ``canonical_env`` returned (aliases already folded in)."""
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
            values[_ENV_FIELDS[key]] = _parse(source[var], _ENV_FIELDS[key], raw)
        if "ROTA_LEADER_ONLY_EXECUTION" in env:
            values["leader_only_execution"] = parse_bool(
                "ROTA_LEADER_ONLY_EXECUTION", env["ROTA_LEADER_ONLY_EXECUTION"]
            )
        instance = env.get("ROTA_INSTANCE_ID", "")
        if instance.strip():  # empty means unset, as for App
            values["instance_id"] = check_instance_id(instance, source=source["ROTA_INSTANCE_ID"])
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def canonical_env(environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The ``ROTA_*`` variables with the seed aliases folded in, and for each the name it was
    actually set under (for messages). An alias that disagrees with its ``ROTA_`` name is a
    ``ConfigError``; an unknown ``LEADER_ELECTION_*`` name is logged as not used."""
    env = {k: v for k, v in environ.items() if k.startswith("ROTA_")}
    source = {k: k for k in env}
    for var, raw in environ.items():
        if not var.startswith(_SEED_PREFIX):
            continue
        target = ALIASES.get(var)
        if target is None:
            log.warning(
                "%s is not a rota setting and is not used (rota reads %s)", var, ", ".join(sorted(ALIASES))
            )
            continue
        if target in env and env[target].strip() != raw.strip():
            raise ConfigError(
                f"{var}={raw!r} and {source[target]}={env[target]!r} disagree; set only one "
                f"({var} is an alias of {target})"
            )
        if target not in env:
            env[target] = raw
            source[target] = var
    return env, source


def _parse(var: str, field_name: str, raw: str) -> object:
    if field_name == "enabled":
        return parse_bool(var, raw)
    if field_name == "name":
        return raw.strip()
    return parse_duration(var, raw)


def parse_payload_size(var: str, raw: str) -> int:
    """Bytes from ``"1048576"``, ``"512KiB"`` or ``"4MiB"``."""
    match = _PAYLOAD_SIZE.match(raw)
    if match is None:
        raise ConfigError(f"{var} must be a number of bytes such as 1048576, 512KiB or 4MiB, got {raw!r}")
    scale = {"KiB": 1024, "MiB": 1024 * 1024}.get(match.group(2) or "", 1)
    return payload_limit(int(match.group(1)) * scale, var)


def payload_limit(value: object, what: str = "max_payload_bytes") -> int:
    return _limits.integer(value, what, minimum=1, maximum=_limits.MAX_PAYLOAD_BYTES_LIMIT)


def check_instance_id(value: str, *, source: str = "instance_id") -> str:
    """An instance id is a non-empty string without whitespace (it appears in leases and logs)."""
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise ConfigError(f"{source} must be a non-empty string without spaces, got {value!r}")
    return _limits.name(value.strip(), source)


def generated_instance_id() -> str:
    """``host:pid:random``: unique per process, and tells an operator where it runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"


@dataclass(frozen=True, slots=True)
class AppConfig:
    """What an ``App`` runs with, resolved once from its arguments, the environment and the
    defaults, in that order (``App.config``). The worker, the election and the health report
    all take their values from here."""

    store_url: str | None  # None when the App was given a Store object
    instance_id: str
    max_payload_bytes: int
    leader: LeaderSettings

    @classmethod
    def resolve(
        cls,
        *,
        url: str | None = None,
        has_store: bool = False,
        instance_id: str | None = None,
        max_payload_bytes: int | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> AppConfig:
        env, source = canonical_env(os.environ if environ is None else environ)
        if url is not None and not isinstance(url, str):
            raise ConfigError(f"the store URL must be a string, got {type(url).__name__}")
        store_url = None if has_store else resolve_store_url(url, env)

        env_id = env.get("ROTA_INSTANCE_ID", "")
        env_id = check_instance_id(env_id, source=source["ROTA_INSTANCE_ID"]) if env_id.strip() else ""
        if instance_id is not None:
            resolved_id = check_instance_id(instance_id)
            _overridden(source.get("ROTA_INSTANCE_ID"), env_id, resolved_id, "instance_id")
        else:
            resolved_id = env_id or generated_instance_id()

        raw_size = env.get("ROTA_MAX_PAYLOAD_BYTES", "")
        env_size = parse_payload_size("ROTA_MAX_PAYLOAD_BYTES", raw_size) if raw_size.strip() else None
        if max_payload_bytes is not None:
            size = payload_limit(max_payload_bytes)
            _overridden("ROTA_MAX_PAYLOAD_BYTES", env_size, size, "max_payload_bytes")
        else:
            size = env_size or _limits.DEFAULT_MAX_PAYLOAD_BYTES

        leader = LeaderSettings.from_canonical_env(env, source, instance_id=resolved_id)
        return cls(store_url=store_url, instance_id=resolved_id, max_payload_bytes=size, leader=leader)


def resolve_store_url(url: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The store URL: ``url``, else ``ROTA_STORE_URL``, else the embedded SQLite default."""
    if url is not None and not isinstance(url, str):
        raise ConfigError(f"the store URL must be a string, got {type(url).__name__}")
    env = os.environ if environ is None else environ
    resolved = url or env.get("ROTA_STORE_URL", "").strip() or DEFAULT_STORE_URL
    _check_url_text(resolved)
    return resolved


def _check_url_text(url: str) -> None:
    if "\x00" in url:
        raise ConfigError("the store URL must not contain NUL characters")
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError("the store URL is not valid Unicode text") from None


def _overridden(var: str | None, env_value: object, explicit: object, argument: str) -> None:
    # explicit wins, but a recognised variable is never ignored without a word
    if var is not None and env_value not in (None, "") and env_value != explicit:
        log.info("%s=%s is overridden by the explicit argument %s=%s", var, env_value, argument, explicit)
