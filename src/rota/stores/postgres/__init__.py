"""The PostgreSQL store (``postgresql://user:pass@host:port/db?schema=rota``).

Driver: asyncpg (see benchmarks/pg_driver_choice.py for the comparison with psycopg 3).
Options in the URL: ``schema`` (default ``rota``), ``migrate`` (default true: apply
migrations on ``open()``), ``pool_min``/``pool_max``, ``connect_timeout`` (seconds), plus
the libpq connection options the driver understands (sslmode, ...); others are refused.
Payloads and results are ``bytea``: they arrive as encoded bytes and leave unchanged, with
no JSON re-parse on the way in or re-serialisation on the way out.
"""

from __future__ import annotations

from rota.stores.postgres._config import PostgresConfig
from rota.stores.postgres._store import PostgresStore, from_url

__all__ = ["PostgresConfig", "PostgresStore", "from_url"]
