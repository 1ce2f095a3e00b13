"""What the Redis store's parts share: the client, the Lua scripts (one per multi-key
state change), and the mapping of redis-py errors onto rota's.

Each ``scripts/<name>.lua`` is prefixed with ``scripts/_ordered.lua`` (chunked ordered
indexes) and ``scripts/_lib.lua`` (shared helpers) and loaded once; calls go through
EVALSHA, falling back to EVAL (which also caches the script server-side) when the server
answers NOSCRIPT, e.g. after a restart or on a new cluster node.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cache
from typing import Any

from redis import exceptions as rex
from redis.exceptions import RedisClusterException

from rota._errors import ConfigError, StoreClosed, StoreError, StoreUnavailable
from rota.stores._resources import read
from rota.stores.redis._config import RedisConfig
from rota.stores.url import redact

_PACKAGE = __name__.rpartition(".")[0]

EncodedArg = bytes | str | int | float

# transient: the server is down, restarting, loading its AOF, or the cluster is resharding
TRANSIENT: tuple[type[BaseException], ...] = (
    rex.ConnectionError,  # includes BusyLoadingError (LOADING)
    rex.TimeoutError,
    rex.ClusterDownError,
    rex.TryAgainError,
    rex.MasterDownError,
    rex.ReadOnlyError,
    rex.ClusterError,
    rex.MaxConnectionsError,
    OSError,
    TimeoutError,
    # at maxmemory the server refuses writes until jobs finish or are purged: a pause, not a bug
    rex.OutOfMemoryError,
)


@asynccontextmanager
async def mapped_errors(what: str, timeout: float | None = None) -> AsyncIterator[None]:
    """Turn driver errors into StoreUnavailable (transient) or StoreError; a call that takes
    longer than ``timeout`` seconds is cut off (redis-py then drops its connection) and is
    StoreUnavailable too."""
    try:
        async with asyncio.timeout(timeout) as bound:
            yield
    except TimeoutError as exc:
        if bound.expired():
            raise StoreUnavailable(f"redis did not answer {what} within {timeout:g} s") from exc
        raise StoreUnavailable(f"redis unavailable during {what}: {exc}") from exc
    except (rex.AuthenticationError, rex.NoPermissionError) as exc:
        # a ConnectionError subclass, but no retry will ever make wrong credentials right
        raise StoreError(f"redis refused the credentials during {what}: {exc}") from exc
    except TRANSIENT as exc:
        raise StoreUnavailable(f"redis unavailable during {what}: {exc}") from exc
    except rex.RedisError as exc:
        raise StoreError(f"redis error during {what}: {exc}") from exc


class Script:
    """One Lua script file: its text (with the shared library) and SHA1."""

    def __init__(self, name: str) -> None:
        self.name = name
        parts = ("_ordered.lua", "_lib.lua", f"{name}.lua")
        self.text = "\n".join(read(_PACKAGE, "scripts", part) for part in parts)
        self.sha = hashlib.sha1(self.text.encode(), usedforsecurity=False).hexdigest()

    async def __call__(
        self, client: Any, keys: Sequence[str], args: Sequence[EncodedArg], timeout: float | None = None
    ) -> Any:
        async with mapped_errors(self.name, timeout):
            try:
                return await client.evalsha(self.sha, len(keys), *keys, *args)
            except rex.NoScriptError:
                return await client.eval(self.text, len(keys), *keys, *args)


@cache
def script(name: str) -> Script:
    """The script ``name.lua``, read once per process."""
    return Script(name)


class RedisConnection:
    """The store's client (made by ``open``). Every key of the store starts with
    ``namespace``, a hash tag: in a cluster they all live in one slot."""

    def __init__(self, config: RedisConfig) -> None:
        self.config = config
        self.namespace = config.namespace
        self._client: Any = None

    @property
    def client(self) -> Any:
        client = self._client
        if client is None:
            raise StoreClosed(f"the store {self.config.describe()} is not open (call open())")
        return client

    async def open(self) -> None:
        """Connect and check that the server is what the URL says: a cluster node for
        ``?cluster=true``, a standalone server otherwise (``ConfigError`` if not)."""
        if self._client is None:
            self._client = self.config.client()
        config = self.config
        try:
            async with mapped_errors("open", config.call_timeout):
                await self._client.ping()
                if not config.cluster:
                    info = await self._client.info("cluster")
        except RedisClusterException as exc:
            if "cluster mode is not enabled" in str(exc).lower():
                raise ConfigError(
                    f"{redact(config.url)} is a standalone Redis server, not a cluster "
                    "node: remove ?cluster=true from the URL"
                ) from None
            raise StoreUnavailable(f"Redis Cluster unavailable during open: {exc}") from exc
        if not config.cluster and info.get("cluster_enabled") in (1, "1"):
            raise ConfigError(f"{redact(config.url)} is a Redis Cluster node: add ?cluster=true to the URL")
        await self._check_layout()

    async def _check_layout(self) -> None:
        """``StoreError`` when the namespace holds jobs in the layout of earlier versions of rota
        (every job id in one zset ``{p}:all``, delayed jobs in ``{p}:d:<queue>``): this
        version keeps those indexes in chunks under other keys (scripts/_ordered.lua), so it
        would not see those jobs. Read-only: a store on a replica opens too."""
        old = f"{self.namespace}:all"
        async with self.mapped("open"):
            found = await self._client.exists(old)
        if found:
            raise StoreError(
                f"the Redis namespace {self.namespace} holds jobs in an earlier rota version's "
                f"layout (key {old}), which this version does not read: let that version finish "
                "and purge them, then delete the namespace's keys, or give this version another "
                "?prefix= (see docs/redis.md, 'Layout changes')"
            )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            async with mapped_errors("close"):
                await client.aclose()

    async def run(self, name: str, *args: EncodedArg) -> Any:
        """Run the script ``name`` (``ARGV[1]`` is the namespace, then ``args``)."""
        keys = [self.namespace + ":cnt"]
        return await script(name)(self.client, keys, [self.namespace, *args], self.config.call_timeout)

    def mapped(self, what: str) -> AbstractAsyncContextManager[None]:
        """``mapped_errors`` with this store's call timeout, around a direct client call."""
        return mapped_errors(what, self.config.call_timeout)
