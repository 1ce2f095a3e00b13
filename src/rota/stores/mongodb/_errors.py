"""Driver errors mapped to rota's: transient ones become ``StoreUnavailable``.

Transient: no server reachable, a network error or timeout, a primary stepping down or a
server shutting down (the driver's ``ConnectionFailure`` family, which includes
``AutoReconnect``, ``NetworkTimeout``, ``NotPrimaryError`` and
``ServerSelectionTimeoutError``), and any error the server labels retryable. Callers retry
those with backoff; the driver's own retryable writes and reads have already retried once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

from rota._errors import StoreError, StoreUnavailable

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


__all__ = ["DuplicateKeyError", "duplicate_indexes", "is_transient", "mapped_errors"]
