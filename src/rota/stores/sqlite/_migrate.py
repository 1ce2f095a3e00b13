"""Versioned schema migrations.

``schema_version`` holds one row per applied file. Each file runs in its own
``BEGIN IMMEDIATE`` transaction that first re-checks whether it was applied, so several
processes opening the same new database at once apply each file exactly once.
"""

from __future__ import annotations

import sqlite3

from rota._errors import StoreError
from rota.stores._resources import Migration, migrations
from rota.stores.sqlite._connection import write

_PACKAGE = __name__.rpartition(".")[0]

_CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL DEFAULT (unixepoch())
)
"""


def current_version(conn: sqlite3.Connection) -> int:
    return max(applied_versions(conn), default=0)


def applied_versions(conn: sqlite3.Connection) -> set[int]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return set()
    return {int(row[0]) for row in conn.execute("SELECT version FROM schema_version")}


def migrate(conn: sqlite3.Connection, available: tuple[Migration, ...] | None = None) -> int:
    """Apply every migration not yet applied; returns the schema version reached."""
    steps = migrations(_PACKAGE) if available is None else available
    latest = steps[-1].version if steps else 0
    applied = applied_versions(conn)
    version = max(applied, default=0)
    if version > latest:
        raise StoreError(
            f"the SQLite database has schema version {version}, newer than this rota "
            f"supports ({latest}); upgrade rota"
        )
    if applied.issuperset(step.version for step in steps):
        return version  # the common case takes no write lock at all
    with write(conn):
        conn.execute(_CREATE_VERSION_TABLE)
    for step in steps:
        with write(conn):
            done = conn.execute("SELECT 1 FROM schema_version WHERE version = ?", (step.version,)).fetchone()
            if done is not None:
                continue
            for statement in split_statements(step.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name) VALUES (?, ?)",
                (step.version, step.name),
            )
    return current_version(conn)


def split_statements(script: str) -> tuple[str, ...]:
    """Split a script into complete statements, so each runs inside our own transaction.

    (``executescript`` would commit first, which is what a migration must not do.)
    """
    statements: list[str] = []
    buffer: list[str] = []
    for line in script.splitlines(keepends=True):
        buffer.append(line)
        candidate = "".join(buffer)
        if sqlite3.complete_statement(candidate):
            stripped = _strip_comments(candidate)
            if stripped:
                statements.append(stripped)
            buffer.clear()
    if _strip_comments("".join(buffer)):
        raise RuntimeError("migration script ends with an incomplete statement")
    return tuple(statements)


def _strip_comments(sql: str) -> str:
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
    return "\n".join(lines).strip()
