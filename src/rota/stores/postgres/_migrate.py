"""Versioned migrations: ``schema_version`` records what ran; an advisory lock serialises
processes that start at once (the second waits, then finds nothing left to do)."""

from __future__ import annotations

import asyncpg

from rota._errors import ConfigError
from rota.stores._resources import migrations

_PACKAGE = __name__.rpartition(".")[0]

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


async def apply_migrations(conn: asyncpg.Connection, schema: str) -> list[int]:
    """Bring ``schema`` up to the latest version in one transaction; returns what ran."""
    applied: list[int] = []
    async with conn.transaction():
        # two-key form: one lock per schema, in a key space unlikely to meet the app's own
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('rota.migrate'), hashtext($1))", schema)
        exists = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema)
        if not exists:  # checked first: CREATE SCHEMA needs a privilege a user may lack
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(_VERSION_TABLE)
        done = {row[0] for row in await conn.fetch("SELECT version FROM schema_version")}
        for version, name, sql in migrations(_PACKAGE):
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_version (version, name) VALUES ($1, $2)", version, name)
            applied.append(version)
    return applied


async def check_version(conn: asyncpg.Connection, schema: str) -> None:
    """With ``migrate=false``: refuse to run on a schema this code does not match."""
    table = await conn.fetchval("SELECT to_regclass($1)", f'"{schema}".schema_version')
    current = 0
    if table is not None:
        current = await conn.fetchval(f'SELECT max(version) FROM "{schema}".schema_version') or 0
    latest = latest_version()
    if current < latest:
        raise ConfigError(
            f"the rota schema {schema!r} is at version {current}, this rota needs {latest}: "
            "run `rota db migrate` (or drop migrate=false from the URL)"
        )
    if current > latest:
        raise ConfigError(
            f"the rota schema {schema!r} is at version {current}, newer than this rota "
            f"knows ({latest}): upgrade rota"
        )


def latest_version() -> int:
    return max((m.version for m in migrations(_PACKAGE)), default=0)
