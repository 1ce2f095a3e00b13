"""Settings of the Redis store, read from its URL, and the redis-py clients built from them.

``redis://[[user]:password@]host:6379/0?prefix=myapp``, ``rediss://...`` (TLS),
``unix:///run/redis.sock?db=0``; ``?cluster=true`` talks to a Redis Cluster through
``redis.asyncio.cluster.RedisCluster`` (the URL names one startup node). Options other than
those listed in ``PASSTHROUGH`` (handed to redis-py) and ``prefix``/``cluster`` are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from rota._errors import ConfigError
from rota.stores.url import redact

DEFAULT_PREFIX = "rota"
PASSTHROUGH = frozenset({
    "db", "socket_timeout", "socket_connect_timeout", "socket_keepalive", "max_connections",
    "health_check_interval", "client_name", "ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile",
    "ssl_keyfile", "ssl_check_hostname",
})  # fmt: skip
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str  # the URL for redis-py, without rota's own options
    prefix: str = DEFAULT_PREFIX
    cluster: bool = False

    @property
    def namespace(self) -> str:
        """The hash tag every key of this store starts with (one cluster slot)."""
        return "{" + self.prefix + "}"

    @classmethod
    def from_url(cls, url: str) -> RedisSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(f"not a Redis URL: {redact(url)!r}")
        prefix, cluster, rest = DEFAULT_PREFIX, False, []
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name == "prefix":
                prefix = value
            elif name == "cluster":
                cluster = _flag(name, value, url)
            elif name in PASSTHROUGH:
                rest.append((name, value))
            else:
                known = ", ".join(sorted({"prefix", "cluster", *PASSTHROUGH}))
                raise ConfigError(f"unknown Redis URL option {name!r} in {redact(url)!r}; known: {known}")
        if not prefix or any(c in prefix for c in "{}"):
            raise ConfigError(f"Redis key prefix must be non-empty without braces, got {prefix!r}")
        if cluster and parts.scheme == "unix":
            raise ConfigError("Redis Cluster cannot be reached over a unix socket")
        # rebuilt by hand: urlunsplit would turn unix:///path into unix:/path
        base = url.split("?", 1)[0].split("#", 1)[0]
        clean = base + ("?" + urlencode(rest) if rest else "")
        return cls(url=clean, prefix=prefix, cluster=cluster)

    def client(self) -> Any:
        """A new redis-py asyncio client (standalone or cluster) for these settings."""
        # One quick retry covers a pooled connection that died with a restarted server; longer
        # outages surface as StoreUnavailable and the runtime backs off.
        retry = Retry(ExponentialBackoff(cap=0.2, base=0.05), 1)
        # no call may hang forever on a server that stopped answering (URL options override)
        opts: dict[str, Any] = {
            "retry": retry,
            "decode_responses": False,
            "socket_timeout": 30.0,
            "socket_connect_timeout": 5.0,
        }
        if self.cluster:
            return RedisCluster.from_url(self.url, **opts)
        return Redis.from_url(self.url, **opts)

    def subscriber(self) -> Redis:
        """A standalone client for pub/sub (classic PUBLISH reaches every cluster node)."""
        return Redis.from_url(self.url, decode_responses=False)


def _flag(name: str, value: str, url: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ConfigError(f"Redis URL option {name}={value!r} must be true or false in {redact(url)!r}")
