"""The Redis store (``redis://``, ``rediss://``, ``unix://``; ``?cluster=true`` for Redis
Cluster; ``?prefix=`` names the key namespace). See docs/redis.md for durability."""

from __future__ import annotations

from rota.stores.redis._config import RedisSettings
from rota.stores.redis._store import RedisStore

__all__ = ["RedisSettings", "RedisStore", "from_url"]


def from_url(url: str) -> RedisStore:
    """An unopened store for ``url``; raises ConfigError for a bad URL or unknown option."""
    return RedisStore(RedisSettings.from_url(url))
