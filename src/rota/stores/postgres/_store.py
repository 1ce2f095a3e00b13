"""``PostgresStore``: the store on a PostgreSQL database, shared by any number of processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime

from rota._models import AddResult, Job
from rota.stores import _checks as check
from rota.stores._parts import Parts
from rota.stores.base import Store
from rota.stores.postgres._config import PostgresConfig
from rota.stores.postgres._connection import PostgresConnection
from rota.stores.postgres._external import add_jobs, session_for
from rota.stores.postgres._jobs import PostgresJobs
from rota.stores.postgres._joined import HandlerPool, Joined
from rota.stores.postgres._leases import PostgresLeases
from rota.stores.postgres._schedules import PostgresSchedules
from rota.stores.postgres._wakeups import Listener
from rota.stores.postgres._workers import PostgresWorkers
from rota.stores.url import redact


class PostgresStore(Store):
    """A store shared by any number of processes and hosts through one PostgreSQL database.

    Claims use ``FOR UPDATE SKIP LOCKED`` in one statement; idle workers wake on
    ``LISTEN/NOTIFY``; transient failures raise ``StoreUnavailable`` and the pool reconnects
    by itself once the server is back. ``migrate()`` is what ``rota db migrate`` runs.
    """

    kind = "postgres"
    shared = True
    hears_ended = True

    def __init__(self, config: PostgresConfig | str) -> None:
        super().__init__()
        self.config = PostgresConfig.from_url(config) if isinstance(config, str) else config
        self._connection = db = PostgresConnection(self.config)
        jobs = PostgresJobs(db)
        schedules, leases = PostgresSchedules(db, jobs), PostgresLeases(db)
        self._ready = Parts(jobs=jobs, schedules=schedules, leases=leases, workers=PostgresWorkers(db))
        self._wakeups: Listener | None = None
        self._first_wait_done = False  # see _listening
        self._handlers = HandlerPool(db)  # ctx.transaction()'s connections, made on first use

    def describe(self) -> str:
        return self.config.describe()

    @property
    def url(self) -> str:
        """The store's URL with its password hidden (``config.url`` has the real one)."""
        return redact(self.config.url)

    async def _open(self) -> Parts:
        """Migrate (unless ``migrate=false``, then check the version) and start the pool. The
        LISTEN connection is made when first needed (``_listen``)."""
        db = self._connection
        try:
            await db.open()
        except BaseException:
            await self._close()
            raise
        channels = {db.jobs_channel: self.notify_jobs, db.schedules_channel: self.notify_schedules}
        self._wakeups = Listener(db.connect, channels, self._wake_all, {db.ended_channel: self.notify_ended})
        self._first_wait_done = False
        return self._ready

    def _listen(self) -> None:
        """Hear other processes from now on: start the LISTEN connection in the background if
        it is not running. When it comes up it wakes every waiter, who re-checks the store."""
        if self._wakeups is not None:
            self._wakeups.ensure_running()

    async def _listening(self) -> None:
        """``_listen``, and at the first wait, wait for the connection too (at most the
        connect timeout): a wait returns with its subscription on, as on Redis, so what is
        sent after it is heard."""
        self._listen()
        listener = self._wakeups
        if listener is None or self._first_wait_done:
            return
        self._first_wait_done = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.connect_timeout):
                await listener.ready.wait()

    async def _close(self) -> None:
        listener, self._wakeups = self._wakeups, None
        if listener is not None:
            await listener.close()
        await self._handlers.close()
        await self._connection.close()

    async def migrate(self) -> list[int]:
        """Apply the migrations this schema lacks (safe to run from several processes at
        once); returns the versions applied. Works whether or not the store is open."""
        return await self._connection.migrate()

    async def add_on(self, connection: object, jobs: Sequence[Job], *, now: datetime) -> list[AddResult]:
        """``add`` on the caller's ``connection`` (an asyncpg or psycopg 3 async connection, or
        a SQLAlchemy ``AsyncConnection`` over one), in the transaction it is in: the jobs
        exist iff that transaction commits, and workers are woken at its commit. The
        connection's session is left as it was (its ``search_path`` too); nothing wakes
        this process's waiters before the commit. ``ConfigError`` for another kind of
        connection, or one to a database without this store's schema."""
        if self._parts is None:
            await self._reopen()
        check.aware(now, "now")
        session = await session_for(connection)
        if not jobs:
            return []
        checked = check.new_jobs(jobs, now)
        return await add_jobs(session, self.config.schema, self._connection.jobs_channel, checked, now)

    async def join(self) -> Joined:
        """A handler's transaction (``ctx.transaction()``) on a connection with the server's
        default ``search_path`` (see _joined.py)."""
        if self._parts is None:
            await self._reopen()
        return await self._handlers.begin()

    # -- wake-ups ----------------------------------------------------------------------------

    async def wait_for_jobs(self, timeout: float) -> bool:
        await self._listening()
        return await super().wait_for_jobs(timeout)

    async def wait_for_schedules(self, timeout: float) -> bool:
        await self._listening()
        return await super().wait_for_schedules(timeout)

    def watch_ended(self, callback: Callable[[str | None], None]) -> Callable[[], None]:
        """Also starts listening: a busy worker may never wait for jobs, and must still hear
        that a job it runs was cancelled by another process."""
        self._listen()
        return super().watch_ended(callback)

    async def wait_reconnected(self) -> None:
        """Returns when the LISTEN connection is next re-established: it probes the server
        about every half second while it is away (see _wakeups.py)."""
        listener = self._wakeups
        if listener is None:
            await super().wait_reconnected()
            return
        self._listen()
        await listener.next_connection()

    def _wake_all(self) -> None:
        self.notify_jobs()
        self.notify_schedules()
        self.notify_ended(None)  # what ended while the listener was away: re-check


def from_url(url: str) -> PostgresStore:
    """An unopened store for ``url`` (raises ``ConfigError`` for bad or unknown options)."""
    return PostgresStore(PostgresConfig.from_url(url))
