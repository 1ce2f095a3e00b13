"""The optional capability of a store to write in a transaction that is not its own
(PostgreSQL): transactional enqueue (``enqueue(..., connection=conn)``) and a handler's
``ctx.transaction()``. Not part of the ``Store`` contract: the other stores cannot join a
caller's transaction, and asking them is a ``ConfigError``. See docs/postgres.md,
"Transactional enqueue and exactly-once effects"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from rota._errors import ConfigError, StoreError
from rota._models import AddResult, Finish, Job
from rota.stores.base import Store


class CommitUnknown(StoreError):
    """The commit of a handler's transaction failed in a way that leaves its result unknown
    (the connection broke during COMMIT): the database either committed it all or nothing.
    Internal to the worker, which then writes nothing and lets the lease decide."""


class Joined(Protocol):
    """A handler's transaction (``ctx.transaction()``) on a connection of the store's."""

    connection: Any  # the driver's connection, handed to the handler

    async def commit_success(self, finish: Finish, *, worker: str, now: datetime) -> bool:
        """Record ``finish`` (a success, as ``Store.finish`` would: conditional on its token
        and fence) in this transaction and commit both: True. False: the lease no longer
        holds; rolled back. A failure before the commit rolls back and raises; a failure of
        the commit itself raises ``CommitUnknown``."""
        ...

    async def rollback(self) -> None:
        """Undo the transaction and give its connection back (idempotent)."""
        ...


@runtime_checkable
class Transactional(Protocol):
    """A store that can add jobs on a caller's connection, in its transaction."""

    async def add_on(self, connection: object, jobs: Sequence[Job], *, now: datetime) -> list[AddResult]:
        """``Store.add`` on ``connection``, in the transaction it is in: the jobs exist iff
        that transaction commits, and waiting workers wake at its commit. The connection's
        session is left as it was. ``ConfigError`` for a connection of a kind the store
        cannot use."""
        ...

    async def join(self) -> Joined:
        """A new transaction on a connection of the store's database for a handler
        (``StoreUnavailable`` while the server is away)."""
        ...


def transactional(store: Store, what: str) -> Transactional:
    """``store`` as a ``Transactional`` store; ``ConfigError`` (naming ``what``, which needs
    it) for a store without the capability."""
    if isinstance(store, Transactional):
        return store
    raise ConfigError(
        f"{what} needs the PostgreSQL store; this app's store is {store.kind} ({store.describe()})"
    )
