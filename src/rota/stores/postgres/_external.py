"""The store's statements on a connection that is not its own: the caller's (transactional
enqueue, ``task.enqueue(..., connection=conn)``) or a handler's (``ctx.transaction()``).

Such a connection belongs to someone else, so nothing here changes its session: the
store's statements (written for ``search_path`` = the store's schema, see queries/) run
schema-qualified instead (``qualified``), so the caller's ``search_path``, prepared
statements and settings are as they were. Nothing here begins, commits or rolls back
either: the statements run in whatever transaction the connection is in, and their
``pg_notify`` is delivered by PostgreSQL when (and only if) that transaction commits.

Drivers (``session_for``): an asyncpg ``Connection`` (pooled or not, in a transaction or
not), a psycopg 3 ``AsyncConnection``, and a SQLAlchemy ``AsyncConnection`` whose driver is
one of those two. psycopg and SQLAlchemy are never imported here: a connection of theirs can
only exist once its library is loaded, so the checks look in ``sys.modules``. Values cross
each driver in the types both adapt alike (every parameter carries an explicit cast; jsonb
goes as text both ways, so a jsonb codec the caller registered, as SQLAlchemy's asyncpg
dialect does, changes nothing).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from rota._errors import ConfigError, InvalidState
from rota._models import AddResult, Job
from rota.stores._resources import queries
from rota.stores.postgres._codec import JOB_COLUMNS, JOBS, job_arrays
from rota.stores.postgres._jobs import as_stored

_PACKAGE = __name__.rpartition(".")[0]
#: the store's tables (migrations/): the names ``qualified`` prefixes with the schema
TABLES = ("jobs", "attempts", "schedules", "leases", "rate_buckets", "workers")
_TABLE = re.compile(r"\b(FROM|JOIN|INTO|UPDATE)(\s+)(" + "|".join(TABLES) + r")\b", re.IGNORECASE)
_JSONB_PARAM = re.compile(r"(\$\d+)::jsonb(\[\])?")
_COMMENT = re.compile(r"--[^\n]*")
#: jobs columns of type jsonb: read as text (see the module docstring)
_JSONB_COLUMNS = frozenset({"headers"})
_UNIQUE_VIOLATION = "23505"
_NO_SUCH_TABLE = ("42P01", "3F000")  # undefined table, invalid schema name


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(sql: str, schema: str) -> str:
    """One of the store's statements made independent of ``search_path``: comments removed,
    the store's tables prefixed with ``schema``, and jsonb parameters sent as text."""
    sql = _COMMENT.sub("", sql)
    sql = _TABLE.sub(lambda m: f"{m.group(1)}{m.group(2)}{quote(schema)}.{m.group(3)}", sql)
    return _JSONB_PARAM.sub(lambda m: f"{m.group(1)}::text{m.group(2) or ''}::jsonb{m.group(2) or ''}", sql)


@cache
def statement(group: str, name: str, schema: str) -> str:
    """The store's statement ``name`` of queries/``group``.sql, qualified for ``schema``."""
    return qualified(queries(_PACKAGE, group)[name], schema)


@cache
def job_by_key(schema: str) -> str:
    """The job holding a key, in ``JOB_COLUMNS`` order (jsonb as text)."""
    columns = ", ".join(f"{c}::text" if c in _JSONB_COLUMNS else c for c in JOB_COLUMNS)
    return f"SELECT {columns} FROM {quote(schema)}.jobs WHERE key = $1"


class Session(Protocol):
    """A connection rota runs statements on without owning it: rows as sequences."""

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]: ...


@dataclass(frozen=True, slots=True)
class AsyncpgSession:
    conn: Any  # asyncpg.Connection (or a pool's proxy of one)

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        rows: list[Sequence[Any]] = await self.conn.fetch(sql, *args)
        return rows


@dataclass(frozen=True, slots=True)
class PsycopgSession:
    conn: Any  # psycopg.AsyncConnection

    async def fetch(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        psycopg = sys.modules["psycopg"]
        # a raw cursor takes PostgreSQL's own $n placeholders (the store's statements as
        # they are), and tuple rows whatever row factory the caller set on the connection
        async with psycopg.AsyncRawCursor(self.conn, row_factory=psycopg.rows.tuple_row) as cur:
            await cur.execute(sql, args)
            if cur.description is None:
                return []
            rows: list[Sequence[Any]] = await cur.fetchall()
            return rows


DRIVERS = "an asyncpg Connection, a psycopg AsyncConnection or a SQLAlchemy AsyncConnection"


def _is_asyncpg(conn: object) -> bool:
    asyncpg = sys.modules.get("asyncpg")
    # isinstance also holds for a pool's PoolConnectionProxy (asyncpg's ConnectionMeta)
    return asyncpg is not None and isinstance(conn, asyncpg.Connection)


def _is_psycopg(conn: object) -> bool:
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(conn, psycopg.AsyncConnection)


async def session_for(conn: object) -> Session:
    """The session of ``conn``; ``ConfigError`` for a connection of another kind."""
    if _is_asyncpg(conn):
        return AsyncpgSession(conn)
    if _is_psycopg(conn):
        return PsycopgSession(conn)
    sa = sys.modules.get("sqlalchemy.ext.asyncio")
    if sa is not None and isinstance(conn, sa.AsyncConnection):
        return await _sqlalchemy_session(conn)
    kind = f"{type(conn).__module__}.{type(conn).__qualname__}"
    hint = ""
    if type(conn).__module__.partition(".")[0] in ("psycopg", "sqlalchemy", "psycopg2"):
        hint = " (a blocking connection cannot be used from async code)"
    raise ConfigError(f"connection must be {DRIVERS} to PostgreSQL, got {kind}{hint}")


async def _sqlalchemy_session(conn: Any) -> Session:
    """The driver connection under a SQLAlchemy ``AsyncConnection``, in its transaction."""
    if conn.dialect.name != "postgresql":
        raise ConfigError(
            f"connection must be to PostgreSQL, got a SQLAlchemy {conn.dialect.name} connection"
        )
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if _is_asyncpg(driver):
        session: Session = AsyncpgSession(driver)
        idle = not driver.is_in_transaction()
    elif _is_psycopg(driver):
        session = PsycopgSession(driver)
        idle = driver.info.transaction_status == sys.modules["psycopg"].pq.TransactionStatus.IDLE
    else:
        name = type(driver).__module__.partition(".")[0]
        raise ConfigError(f"a SQLAlchemy connection must use the asyncpg or psycopg driver, got {name}")
    if idle:
        # SQLAlchemy sends BEGIN with the first statement it runs itself: a statement sent
        # on the driver connection before that would commit alone, outside the caller's
        # transaction. Running one through SQLAlchemy begins it (as any execute would;
        # under AUTOCOMMIT it begins nothing, and the job is written at once, as the
        # caller's own statements are).
        await conn.exec_driver_sql("SELECT 1")
    return session


async def add_jobs(
    session: Session, schema: str, channel: str, jobs: Sequence[Job], now: datetime
) -> list[AddResult]:
    """``Store.add`` on the session's connection, in its transaction: the jobs exist iff
    it commits, and the wake-up (``pg_notify`` on ``channel``) is sent at that commit. Jobs
    are checked already (``Store.add``'s checks). Keys are deduplicated as ``add`` does,
    against committed jobs and this transaction's own."""
    first_of: dict[str, int] = {}
    sent: list[Job] = []
    slot: list[int] = []  # input position -> index in ``sent``
    for job in jobs:
        if job.key is not None and job.key in first_of:
            slot.append(first_of[job.key])
            continue
        if job.key is not None:
            first_of[job.key] = len(sent)
        slot.append(len(sent))
        sent.append(job)
    with _mapped(schema):
        rows = await session.fetch(statement("jobs", "add_jobs", schema), *job_arrays(sent), channel)
        results: list[AddResult] = []
        for job, row in zip(sent, rows, strict=True):
            if row[1]:  # created
                results.append(AddResult(job=as_stored(job, now), created=True))
                continue
            # the key's holder: read here (not from add_jobs' row), in this transaction,
            # which sees a holder it wrote itself
            found = await session.fetch(job_by_key(schema), job.key)
            if not found:  # purged between the insert and this read
                raise InvalidState(f"job key {job.key!r} changed hands during add; retry")
            results.append(AddResult(job=JOBS.job_from_row(found[0]), created=False))
    out: list[AddResult] = []
    for i, s in enumerate(slot):
        res = results[s]
        out.append(AddResult(job=res.job.replace(), created=False) if jobs[i] is not sent[s] else res)
    return out


@contextlib.contextmanager
def _mapped(schema: str) -> Iterator[None]:
    """Driver errors of the store's statements on a caller's connection: a taken job id is
    ``InvalidState`` (as ``Store.add`` says), a database without the store's schema a
    ``ConfigError``; the rest (the caller's connection failing, its transaction aborted)
    pass unchanged, for the caller who owns that connection to handle."""
    try:
        yield
    except Exception as exc:
        state = getattr(exc, "sqlstate", None)
        reason = " ".join(str(exc).split())
        if state == _UNIQUE_VIOLATION:
            raise InvalidState(f"a job with one of these ids already exists: {reason}") from exc
        if state in _NO_SUCH_TABLE:
            raise ConfigError(
                f"the connection's database has no rota schema {schema!r} (is it the store's "
                f"database, and was the store opened or migrated?): {reason}"
            ) from exc
        raise
