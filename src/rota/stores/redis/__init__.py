"""The Redis store (``redis://``, ``rediss://``, ``unix://``; ``?cluster=true`` for Redis
Cluster; ``?prefix=`` names the key namespace). See docs/redis.md for durability."""

from __future__ import annotations

from rota.stores.redis._config import RedisConfig
from rota.stores.redis._store import RedisStore, from_url

__all__ = ["RedisConfig", "RedisStore", "from_url"]
