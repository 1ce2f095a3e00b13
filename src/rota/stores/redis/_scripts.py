"""The Lua scripts (one per multi-key state change), called by SHA, and the mapping of
redis-py errors onto rota's.

Each ``.lua`` file beside this module is prefixed with ``_lib.lua`` (shared helpers) and
loaded once; calls go through EVALSHA, falling back to EVAL (which also caches the script
server-side) when the server answers NOSCRIPT, e.g. after a restart or on a new cluster node.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import cache
from importlib import resources
from typing import Any

from redis import exceptions as rex

from rota._errors import StoreError, StoreUnavailable

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
async def mapped_errors(what: str) -> AsyncIterator[None]:
    """Turn driver errors into StoreUnavailable (transient) or StoreError."""
    try:
        yield
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
        self.text = _read("_lib.lua") + "\n" + _read(f"{name}.lua")
        self.sha = hashlib.sha1(self.text.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, client: Any, keys: Sequence[str], args: Sequence[EncodedArg]) -> Any:
        async with mapped_errors(self.name):
            try:
                return await client.evalsha(self.sha, len(keys), *keys, *args)
            except rex.NoScriptError:
                return await client.eval(self.text, len(keys), *keys, *args)


def _read(filename: str) -> str:
    return resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")


@cache
def script(name: str) -> Script:
    """The script ``name.lua``, read once per process."""
    return Script(name)
