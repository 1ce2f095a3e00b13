"""The optional capability of a store to write in a transaction that is not its own
(PostgreSQL): transactional enqueue (``enqueue(..., connection=conn)``) and a handler's
``ctx.transaction()``. Not part of the ``Store`` contract: the other stores cannot join a
caller's transaction, and asking them is a ``ConfigError``. See docs/postgres.md,
"Transactional enqueue and exactly-once effects"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from rota._errors import ConfigError
from rota._models import AddResult, Job
from rota.stores.base import Store


@runtime_checkable
class Transactional(Protocol):
    """A store that can add jobs on a caller's connection, in its transaction."""

    async def add_on(self, connection: object, jobs: Sequence[Job], *, now: datetime) -> list[AddResult]:
        """``Store.add`` on ``connection``, in the transaction it is in: the jobs exist iff
        that transaction commits, and waiting workers wake at its commit. The connection's
        session is left as it was. ``ConfigError`` for a connection of a kind the store
        cannot use."""
        ...


def transactional(store: Store, what: str) -> Transactional:
    """``store`` as a ``Transactional`` store; ``ConfigError`` (naming ``what``, which needs
    it) for a store without the capability."""
    if isinstance(store, Transactional):
        return store
    raise ConfigError(
        f"{what} needs the PostgreSQL store; this app's store is {store.kind} ({store.describe()})"
    )
