"""Throwaway servers for the benchmarks, on free 127.0.0.1 ports, reusing the test fixtures'
start/stop helpers (tests/servers/*.py) so benchmarks and tests run the same server setup."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@contextmanager
def redis_server(*, persist: bool = True) -> Iterator[str]:
    """A redis-server with AOF on (appendfsync everysec), as in the tests; yields its URL.
    ``persist=False``: AOF off (the harness's own server, which only counts handler runs)."""
    from tests.servers.redis import RedisServer

    with tempfile.TemporaryDirectory(prefix="rota-bench-redis-") as tmp:
        server = RedisServer(Path(tmp), extra=() if persist else ("--appendonly", "no"))
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


@contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster (fsync off, as in the tests); yields the admin URL."""
    from tests.servers.postgres import remove_cluster, start_cluster

    server = start_cluster()
    try:
        yield server.url
    finally:
        remove_cluster(server)


@contextmanager
def mongodb_server() -> Iterator[str]:
    """FerretDB over SQLite (no MongoDB package on this machine); yields a URL without db."""
    from tests.servers.mongodb import start_ferretdb

    server = start_ferretdb()
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(server.data_dir or "", ignore_errors=True)


@contextmanager
def ferretdb_pg_server() -> Iterator[str]:
    """FerretDB over PostgreSQL, its main backend (the tests use its SQLite backend, as the
    issue asks; over PostgreSQL, filters on ``_id`` reach an index); yields a URL without db."""
    from tests.servers.mongodb import start_ferretdb

    with postgres_server() as admin:
        asyncio.run(_pg_exec(admin, 'CREATE DATABASE "ferretdb"'))
        server = start_ferretdb(urlunsplit(urlsplit(admin)._replace(path="/ferretdb")))
        try:
            yield server.url
        finally:
            server.stop()
            shutil.rmtree(server.data_dir or "", ignore_errors=True)


@contextmanager
def server_for(store: str) -> Iterator[str]:
    """The base URL for ``store``: a server for the server stores, a temp dir for SQLite."""
    if store == "redis":
        with redis_server() as url:
            yield url
    elif store == "postgres":
        with postgres_server() as url:
            yield url
    elif store == "mongodb":
        with mongodb_server() as url:
            yield url
    elif store == "mongodb-pg":
        with ferretdb_pg_server() as url:
            yield url
    elif store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rota-bench-sqlite-") as tmp:
            yield tmp
    elif store == "memory":
        yield "memory://"
    else:
        raise ValueError(f"unknown store {store!r}")


def fresh_url(store: str, base: str) -> str:
    """A rota store URL in a new, empty namespace on the server at ``base``."""
    tag = uuid.uuid4().hex[:10]
    if store == "sqlite":
        return f"sqlite:///{base}/rota-{tag}.db"
    if store == "memory":
        return "memory://"
    if store == "redis":
        return f"{base}?prefix=b{tag}"
    if store == "postgres":
        return f"{base}?schema=b_{tag}"
    if store in ("mongodb", "mongodb-pg"):
        parts = urlsplit(base)
        return urlunsplit(parts._replace(path=f"/bench_{tag}"))
    raise ValueError(f"unknown store {store!r}")


async def _pg_exec(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def fresh_pg_database(admin_url: str) -> str:
    """A new empty database on the cluster (for peers that want their own); returns its URL."""
    name = f"peer_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_exec(admin_url, f'CREATE DATABASE "{name}"'))
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))
