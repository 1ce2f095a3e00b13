"""The PostgreSQL store (``postgresql://user:pass@host:port/db?schema=rota``).

Driver: asyncpg (see benchmarks/pg_driver_choice.py for the comparison with psycopg 3).
Options in the URL: ``schema`` (default ``rota``), ``migrate`` (default true: apply
migrations on ``open()``), ``pool_min``/``pool_max``, ``connect_timeout`` (seconds), plus
the libpq connection options the driver understands (sslmode, ...); others are refused.
Payloads and results are ``bytea``: they arrive as encoded bytes and leave unchanged, with
no JSON re-parse on the way in or re-serialisation on the way out.
"""

from __future__ import annotations

from rota.stores.postgres._config import PgConfig, parse_url
from rota.stores.postgres._schedules import SchedulesMixin


class PostgresStore(SchedulesMixin):
    """A store shared by any number of processes and hosts through one PostgreSQL database.

    Claims use ``FOR UPDATE SKIP LOCKED`` in one statement; idle workers wake on
    ``LISTEN/NOTIFY``; transient failures raise ``StoreUnavailable`` and the pool reconnects
    by itself once the server is back. ``migrate()`` is what ``rota db migrate`` runs.
    """

    def __init__(self, config: PgConfig | str) -> None:
        super().__init__(parse_url(config) if isinstance(config, str) else config)


def from_url(url: str) -> PostgresStore:
    """An unopened store for ``url`` (raises ``ConfigError`` for bad or unknown options)."""
    return PostgresStore(parse_url(url))


__all__ = ["PostgresStore", "from_url"]
