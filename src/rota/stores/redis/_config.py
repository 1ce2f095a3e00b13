"""The Redis store's configuration, read from its URL, and the redis-py clients built from it.

``redis://[[user]:password@]host:6379/0?prefix=myapp``, ``rediss://...`` (TLS),
``unix:///run/redis.sock?db=0``; ``?cluster=true`` talks to a Redis Cluster through
``redis.asyncio.cluster.RedisCluster`` (the URL names one startup node). Options other than
those listed in ``PASSTHROUGH`` (handed to redis-py) and ``prefix``/``cluster`` are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from rota._convert import parse_bool
from rota._errors import ConfigError
from rota.stores.url import redact, split_url

DEFAULT_PREFIX = "rota"
PASSTHROUGH = frozenset({
    "db", "socket_timeout", "socket_connect_timeout", "socket_keepalive", "max_connections",
    "health_check_interval", "client_name", "ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile",
    "ssl_keyfile", "ssl_check_hostname",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class RedisConfig:
    """What ``from_url`` understood; ``url`` (what redis-py gets) may hold a password: it
    stays out of ``repr()``, which shows the redacted URL instead."""

    url: str = field(repr=False)  # the URL for redis-py, without rota's own options
    prefix: str = DEFAULT_PREFIX
    cluster: bool = False
    #: seconds a call may take before it is StoreUnavailable (``?socket_timeout=``; 0: none).
    #: rota bounds each call itself rather than through redis-py's socket_timeout, which
    #: wraps every send in a task of its own (a fifth of a one-job enqueue here)
    call_timeout: float | None = 30.0

    def __repr__(self) -> str:
        return (
            f"RedisConfig(url={redact(self.url)!r}, prefix={self.prefix!r}, cluster={self.cluster}, "
            f"call_timeout={self.call_timeout})"
        )

    def describe(self) -> str:
        return f"{'cluster' if self.cluster else 'redis'} {redact(self.url)} prefix={self.prefix}"

    @property
    def namespace(self) -> str:
        """The hash tag every key of this store starts with (one cluster slot)."""
        return "{" + self.prefix + "}"

    @classmethod
    def from_url(cls, url: str) -> RedisConfig:
        """Parse a Redis store URL; raises ConfigError for a bad URL or unknown option."""
        parts = split_url(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(f"not a Redis URL: {redact(url)!r}")
        prefix, cluster, rest, timeout = DEFAULT_PREFIX, False, [], None
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name == "prefix":
                prefix = value
            elif name == "cluster":
                cluster = _flag(name, value, url)
            elif name == "socket_timeout":
                _check_option(name, value, url)
                timeout = float(value)
            elif name in PASSTHROUGH:
                rest.append((name, value))
            else:
                known = ", ".join(sorted({"prefix", "cluster", *PASSTHROUGH}))
                raise ConfigError(f"unknown Redis URL option {name!r} in {redact(url)!r}; known: {known}")
        if not prefix or any(c in prefix for c in "{}"):
            raise ConfigError(f"Redis key prefix must be non-empty without braces, got {prefix!r}")
        if cluster and parts.scheme == "unix":
            raise ConfigError("Redis Cluster cannot be reached over a unix socket")
        _check_address(parts, url, cluster, dict(rest))
        for name, value in rest:
            _check_option(name, value, url)
        # rebuilt by hand: urlunsplit would turn unix:///path into unix:/path
        base = url.split("?", 1)[0].split("#", 1)[0]
        clean = base + ("?" + urlencode(rest) if rest else "")
        call_timeout = 30.0 if timeout is None else (timeout or None)
        return cls(url=clean, prefix=prefix, cluster=cluster, call_timeout=call_timeout)

    def client(self) -> Any:
        """A new redis-py asyncio client (standalone or cluster) for this configuration."""
        # One quick retry covers a pooled connection that died with a restarted server; longer
        # outages surface as StoreUnavailable and the runtime backs off.
        retry = Retry(ExponentialBackoff(cap=0.2, base=0.05), 1)
        # no call may hang forever on a server that stopped answering: the store bounds each
        # call (call_timeout; _connection.mapped_errors); connects here (URL options override)
        opts: dict[str, Any] = {
            "retry": retry,
            "decode_responses": False,
            "socket_timeout": None,
            "socket_connect_timeout": 5.0,
        }
        if self.cluster:
            return RedisCluster.from_url(self.url, **opts)
        return Redis.from_url(self.url, **opts)

    def subscriber(self) -> Redis:
        """A standalone client for pub/sub (classic PUBLISH reaches every cluster node)."""
        return Redis.from_url(self.url, decode_responses=False)


_FLOAT_OPTIONS = ("socket_timeout", "socket_connect_timeout", "health_check_interval")
_BOOL_OPTIONS = ("socket_keepalive", "ssl_check_hostname")


def _check_address(parts: SplitResult, url: str, cluster: bool, options: dict[str, str]) -> None:
    """Host, port and database number, which redis-py would otherwise reject late (a bad
    port) or ignore (``/abc`` as the database silently meant database 0)."""
    shown = redact(url)
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"the Redis URL names no host: {shown!r}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"the Redis URL's port must be a number from 1 to 65535: {shown!r}") from None
    if port == 0:
        raise ConfigError(f"the Redis URL's port must be a number from 1 to 65535: {shown!r}")
    path_db = parts.path.strip("/") if parts.scheme != "unix" else ""
    query_db = options.get("db")
    for db in (path_db, query_db):
        if db not in (None, "") and not (db.isascii() and db.isdigit() and int(db) < 2**31):
            raise ConfigError(f"the Redis database must be a number from 0, got {db!r} in {shown!r}")
    if path_db and query_db is not None and int(path_db) != int(query_db):
        raise ConfigError(f"the Redis URL names database {path_db} and db={query_db}: {shown!r}")
    if cluster and int(path_db or query_db or 0) != 0:
        raise ConfigError(f"Redis Cluster has only database 0, not {path_db or query_db}: {shown!r}")


def _check_option(name: str, value: str, url: str) -> None:
    if name in _FLOAT_OPTIONS:
        try:
            seconds = float(value)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ConfigError(f"Redis URL option {name} must be a number of seconds, got {value!r}")
    elif name in _BOOL_OPTIONS:
        _flag(name, value, url)
    elif name == "max_connections" and not (value.isascii() and value.isdigit() and 0 < int(value) < 2**31):
        raise ConfigError(f"Redis URL option max_connections must be a positive integer, got {value!r}")
    elif name == "ssl_cert_reqs" and value.lower() not in ("none", "optional", "required"):
        raise ConfigError(f"Redis URL option ssl_cert_reqs must be none, optional or required, got {value!r}")


def _flag(name: str, value: str, url: str) -> bool:
    return parse_bool(f"Redis URL option {name} in {redact(url)!r}", value)
