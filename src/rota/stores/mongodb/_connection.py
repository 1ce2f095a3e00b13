"""What the MongoDB store's parts share: the client and the collections of one database
(made by ``open``), and the mapping of driver errors to rota's.

Transient errors become ``StoreUnavailable``: no server reachable, a network error or
timeout, a primary stepping down or a server shutting down (the driver's
``ConnectionFailure`` family, which includes ``AutoReconnect``, ``NetworkTimeout``,
``NotPrimaryError`` and ``ServerSelectionTimeoutError``), and any error the server labels
retryable. Callers retry
those with backoff; the driver's own retryable writes and reads have already retried once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any, ParamSpec, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure, PyMongoError

from rota._errors import StoreClosed, StoreError, StoreUnavailable
from rota.stores.mongodb._codec import Doc
from rota.stores.mongodb._config import MongoConfig

P = ParamSpec("P")
T = TypeVar("T")

DUPLICATE_KEY = 11000

# server codes of a replica set changing primary or a node going down (MongoDB's error codes)
_TRANSIENT_CODES = frozenset(
    {
        6,  # HostUnreachable
        7,  # HostNotFound
        89,  # NetworkTimeout
        91,  # ShutdownInProgress
        189,  # PrimarySteppedDown
        262,  # ExceededTimeLimit
        9001,  # SocketException
        10107,  # NotWritablePrimary
        11600,  # InterruptedAtShutdown
        11602,  # InterruptedDueToReplStateChange
        13435,  # NotPrimaryNoSecondaryOk
        13436,  # NotPrimaryOrSecondary
    }
)
_TRANSIENT_LABELS = ("RetryableWriteError", "TransientTransactionError", "ResumableChangeStreamError")


def is_transient(exc: PyMongoError) -> bool:
    if isinstance(exc, ConnectionFailure):
        return True
    if any(exc.has_error_label(label) for label in _TRANSIENT_LABELS):
        return True
    return isinstance(exc, OperationFailure) and exc.code in _TRANSIENT_CODES


@contextmanager
def mapped_errors(what: str) -> Iterator[None]:
    """Run a store operation, turning driver errors into ``StoreUnavailable``/``StoreError``."""
    try:
        yield
    except PyMongoError as exc:
        if is_transient(exc):
            raise StoreUnavailable(f"MongoDB unavailable during {what}: {exc}") from exc
        raise StoreError(f"MongoDB error during {what}: {exc}") from exc


def duplicate_indexes(exc: BulkWriteError) -> set[int]:
    """Indexes (in the batch) of the inserts refused for a duplicate key; re-raises the rest."""
    errors = exc.details.get("writeErrors", [])
    dups = {int(e["index"]) for e in errors if e.get("code") == DUPLICATE_KEY}
    if len(dups) != len(errors) or exc.details.get("writeConcernErrors"):
        raise exc
    return dups


def mapped(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """A part's operation, with its driver errors mapped (``mapped_errors``)."""
    what = fn.__name__

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        with mapped_errors(what):
            return await fn(*args, **kwargs)

    return call


class MongoConnection:
    """The client of one store and its database (both made by ``open``); the collections
    are ``<prefix>_jobs``, ``_schedules``, ``_leases``, ``_workers``, ``_marks`` (see
    _versioned.py) and ``_meta`` (polled wake-ups)."""

    def __init__(self, config: MongoConfig) -> None:
        self.config = config
        self._client: AsyncMongoClient[Doc] | None = None
        self._db: AsyncDatabase[Doc] | None = None
        self._collections: dict[str, AsyncCollection[Doc]] = {}
        #: the server's answer to ``hello`` when it was opened
        self.hello: dict[str, Any] = {}

    async def open(self) -> None:
        if self._client is not None:
            return
        client: AsyncMongoClient[Doc] = AsyncMongoClient(
            self.config.client_url, tz_aware=True, tzinfo=UTC, appname="rota", retryWrites=True
        )
        try:
            with mapped_errors("open"):
                self.hello = await client.admin.command("hello")
        except BaseException:
            await client.close()
            raise
        db = client[self.config.database]
        self._client, self._db = client, db
        self._collections = {
            r: db[f"{self.config.prefix}_{r}"]
            for r in ("jobs", "schedules", "leases", "workers", "marks", "meta", "limits")
        }

    async def close(self) -> None:
        client, self._client, self._db = self._client, None, None
        self._collections = {}
        if client is not None:
            await client.close()

    @property
    def db(self) -> AsyncDatabase[Doc]:
        db = self._db
        if db is None:
            raise StoreClosed(f"the MongoDB store {self.config.describe()} is not open (call open())")
        return db

    def collection(self, role: str) -> AsyncCollection[Doc]:
        """The collection of ``role`` (jobs, schedules, leases, workers, marks, meta, limits)."""
        found = self._collections.get(role)
        if found is None:
            raise StoreClosed(f"the MongoDB store {self.config.describe()} is not open (call open())")
        return found
