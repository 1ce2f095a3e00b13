"""Which driver errors are transient (``StoreUnavailable``: the caller retries with backoff).

Transient: the connection failed or was lost (SQLSTATE class 08, or the socket died),
the server is short of resources (class 53: too many connections, out of memory, disk
full), an operator intervened (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
connect now: a restart or failover), a transaction was rolled back to resolve a conflict
(class 40: serialization failure, deadlock), or a lock wait timed out (55P03).

Also transient: asyncpg's ``InternalClientError`` "cannot switch to state N; another
operation is in progress". A server shutting down sends each idle pooled connection an error
before closing it; a query started on such a connection in between finds its protocol still
consuming that error. The connection is dead, so it counts as lost like the rest.
"""

from __future__ import annotations

import asyncpg

_TRANSIENT_CLASSES = ("08", "53", "40", "57P", "55P03", "58")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        return "another operation" in str(exc)
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        return state.startswith(_TRANSIENT_CLASSES)
    if isinstance(exc, asyncpg.InterfaceError):
        # the pool handed out (or we held) a connection that has since closed
        return "closed" in str(exc) or "connection" in str(exc).lower()
    return isinstance(exc, (OSError, TimeoutError, ConnectionError))


def connection_lost(exc: BaseException) -> bool:
    """Whether every pooled connection is suspect (server restarted, network dropped)."""
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        return state.startswith(("08", "57P"))
    return isinstance(exc, (OSError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError))
