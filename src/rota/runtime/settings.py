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
    ROTA_TRACING                         true/false: OpenTelemetry spans (default false)

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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, TypedDict, Unpack

from rota import _limits
from rota._convert import freeze, parse_bool, parse_duration, seconds
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


class LeaseOptions(TypedDict, total=False):
    """How a named lease is kept: ``app.lock(...)``, ``app.leader_election(...)`` and
    ``LeaderSettings(...)`` take these keywords; durations in seconds or ``timedelta``.

    ``ttl`` (default 30 s) is the lease's length; ``renew_interval`` (default ttl/3) how often
    the holder renews it; ``safety_margin`` (default ttl/10) how long before its expiry the
    holder stops trusting it; ``retry_interval`` how often a waiter tries to take it (default
    ttl/3 for an election, the renew interval capped at 1 s for a lock).
    """

    ttl: float | timedelta
    renew_interval: float | timedelta | None
    safety_margin: float | timedelta | None
    retry_interval: float | timedelta | None


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """How one named lease is kept, in seconds: its ``ttl``, how often it is renewed, how long
    before its expiry the holder stops trusting it (``safety_margin``: covers clock skew
    between hosts and the delay between reading the clock and the store applying the write),
    and how often a waiter retries to take it."""

    ttl: float
    renew_interval: float
    safety_margin: float
    retry_interval: float

    @classmethod
    def build(cls, what: str = "lease", **options: Unpack[LeaseOptions]) -> LeaseTiming:
        """``LeaseOptions`` checked and resolved (``what`` names the lease in errors).

        Defaults: renew every ttl/3 (two more tries before the lease can lapse), trust it
        until ttl - ttl/10, retry every ttl/3. Raises ``ConfigError`` for an unknown option,
        and unless 0 < renew + margin < ttl and the retry interval is positive."""
        _limits.options(options, LeaseOptions.__annotations__, what)
        ttl = seconds(options.get("ttl", DEFAULT_TTL), f"{what} ttl")
        renew = _or_default(options.get("renew_interval"), ttl / 3, f"{what} renew interval")
        margin = _or_default(options.get("safety_margin"), ttl / 10, f"{what} safety margin")
        retry = _or_default(options.get("retry_interval"), ttl / 3, f"{what} retry interval")
        if ttl < 0.003:
            raise ConfigError(f"{what} ttl must be at least 3 ms, got {ttl:g}s")
        for value, name in ((renew, "renew interval"), (margin, "safety margin"), (retry, "retry interval")):
            if value <= 0:
                raise ConfigError(f"{what} {name} must be positive, got {value:g}s")
        if renew + margin >= ttl:
            raise ConfigError(
                f"{what} renew interval ({renew:g}s) plus safety margin ({margin:g}s) must be less "
                f"than the ttl ({ttl:g}s), or the holder would count the lease lost before renewing it"
            )
        return cls(ttl, renew, margin, retry)

    def options(self) -> LeaseOptions:
        """These values as keywords (to build the same timing elsewhere)."""
        return {
            "ttl": self.ttl, "renew_interval": self.renew_interval,
            "safety_margin": self.safety_margin, "retry_interval": self.retry_interval,
        }  # fmt: skip


def _or_default(value: float | timedelta | None, default: float, what: str) -> float:
    return default if value is None else seconds(value, what)


@dataclass(frozen=True, slots=True, init=False)
class LeaderSettings:
    """Leader election and leader-aware execution: ``LeaderSettings(enabled=True, ttl=30)``.

    ``enabled=None`` means: on when the store is shared between processes (``store.shared``).
    ``leader_only_execution``: followers do not execute jobs at all (only the leader's worker
    claims), for deployments that want one active instance and hot standbys. The lease's
    timing is given as ``LeaseOptions`` keywords (``ttl``, ``renew_interval``,
    ``retry_interval``, ``safety_margin``) and kept in seconds.
    """

    enabled: bool | None
    name: str
    ttl: float
    renew_interval: float
    retry_interval: float
    safety_margin: float
    leader_only_execution: bool
    instance_id: str | None

    def __init__(
        self,
        enabled: bool | None = None,
        name: str = DEFAULT_ELECTION,
        *,
        leader_only_execution: bool = False,
        instance_id: str | None = None,
        **timing: Unpack[LeaseOptions],
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"leader election name must be a non-empty string, got {name!r}")
        _limits.name(name, "leader election name")
        for flag, value in (("enabled", enabled), ("leader_only_execution", leader_only_execution)):
            if value is not None and not isinstance(value, bool):
                raise ConfigError(f"{flag} must be true or false, got {value!r}")
        checked_id = None if instance_id is None else check_instance_id(instance_id)
        freeze(
            self, enabled=enabled, name=name, leader_only_execution=leader_only_execution,
            instance_id=checked_id, **asdict(LeaseTiming.build("leader election", **timing)),
        )  # fmt: skip

    @property
    def timing(self) -> LeaseTiming:
        return LeaseTiming(self.ttl, self.renew_interval, self.safety_margin, self.retry_interval)

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
        known = {"enabled", "name", "leader_only_execution", "instance_id", *LeaseOptions.__annotations__}
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
        return _build_leader_settings(values)


def _build_leader_settings(values: Mapping[str, object]) -> LeaderSettings:
    """``LeaderSettings(**values)`` for values of unchecked types (the constructor checks them)."""
    build: Callable[..., LeaderSettings] = LeaderSettings
    return build(**values)


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
    tracing: bool = False  # OpenTelemetry spans for enqueues and runs (docs/tracing.md)

    @classmethod
    def resolve(
        cls,
        *,
        url: str | None = None,
        has_store: bool = False,
        instance_id: str | None = None,
        max_payload_bytes: int | None = None,
        tracing: bool | None = None,
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

        raw_tracing = env.get("ROTA_TRACING", "")
        env_tracing = parse_bool("ROTA_TRACING", raw_tracing) if raw_tracing.strip() else None
        if tracing is not None:
            _limits.flag(tracing, "tracing")
            _overridden("ROTA_TRACING", env_tracing, tracing, "tracing")
        else:
            tracing = bool(env_tracing)

        leader = LeaderSettings.from_canonical_env(env, source, instance_id=resolved_id)
        return cls(
            store_url=store_url,
            instance_id=resolved_id,
            max_payload_bytes=size,
            leader=leader,
            tracing=tracing,
        )


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
