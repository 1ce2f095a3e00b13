"""``PostgresStore``: the store on a PostgreSQL database, shared by any number of processes."""

from __future__ import annotations

from rota.stores._parts import Parts
from rota.stores.base import Store
from rota.stores.postgres._config import PostgresConfig
from rota.stores.postgres._connection import PostgresConnection
from rota.stores.postgres._jobs import PostgresJobs
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

    def __init__(self, config: PostgresConfig | str) -> None:
        super().__init__()
        self.config = PostgresConfig.from_url(config) if isinstance(config, str) else config
        self._connection = db = PostgresConnection(self.config)
        jobs = PostgresJobs(db)
        schedules, leases = PostgresSchedules(db, jobs), PostgresLeases(db)
        self._ready = Parts(jobs=jobs, schedules=schedules, leases=leases, workers=PostgresWorkers(db))
        self._wakeups: Listener | None = None

    def describe(self) -> str:
        return self.config.describe()

    @property
    def url(self) -> str:
        """The store's URL with its password hidden (``config.url`` has the real one)."""
        return redact(self.config.url)

    async def _open(self) -> Parts:
        """Migrate (unless ``migrate=false``, then check the version), start the pool and the
        LISTEN connection."""
        db = self._connection
        try:
            await db.open()
            channels = {db.jobs_channel: self.notify_jobs, db.schedules_channel: self.notify_schedules}
            listener = Listener(db.connect, channels, self._wake_all)
            with db.mapped_errors():
                await listener.start()
            self._wakeups = listener
        except BaseException:
            await self._close()
            raise
        return self._ready

    async def _close(self) -> None:
        listener, self._wakeups = self._wakeups, None
        if listener is not None:
            await listener.close()
        await self._connection.close()

    async def migrate(self) -> list[int]:
        """Apply the migrations this schema lacks (safe to run from several processes at
        once); returns the versions applied. Works whether or not the store is open."""
        return await self._connection.migrate()

    # -- wake-ups ----------------------------------------------------------------------------

    async def wait_for_jobs(self, timeout: float) -> bool:
        if self._wakeups is not None:
            self._wakeups.ensure_running()
        return await super().wait_for_jobs(timeout)

    async def wait_for_schedules(self, timeout: float) -> bool:
        if self._wakeups is not None:
            self._wakeups.ensure_running()
        return await super().wait_for_schedules(timeout)

    async def wait_reconnected(self) -> None:
        """Returns when the LISTEN connection is next re-established: it probes the server
        about every half second while it is away (see _wakeups.py)."""
        listener = self._wakeups
        if listener is None:
            await super().wait_reconnected()
            return
        listener.ensure_running()
        await listener.next_connection()

    def _wake_all(self) -> None:
        self.notify_jobs()
        self.notify_schedules()


def from_url(url: str) -> PostgresStore:
    """An unopened store for ``url`` (raises ``ConfigError`` for bad or unknown options)."""
    return PostgresStore(PostgresConfig.from_url(url))
