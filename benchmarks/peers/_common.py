"""Shared by the peer drivers (run with benchmarks/.venv-peers/bin/python): the measurements
come from ``benchmarks/_measure.py`` (the same code measures rota), the handlers' one Redis
call from ``benchmarks/_record.py``; here only what the peers add (Redis and PostgreSQL
namespaces, Redis memory)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent  # the peers venv's console scripts
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from _measure import System, parse_args, run  # noqa: E402
from _record import arecord, record  # noqa: E402

__all__ = ["BIN", "HERE", "System", "arecord", "cli", "flush_redis", "fresh_pg", "parse_args", "record",
           "redis_memory", "run"]  # fmt: skip


def cli(name: str) -> list[str]:
    """A library's own console script, run by this venv's python (the script's ``#!`` line may
    name the interpreter of the venv it was first installed in)."""
    return [sys.executable, str(BIN / name)]


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushall()
    client.close()


def redis_memory(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    used = int(client.info("memory")["used_memory"])
    client.close()
    return used


def fresh_pg(url: str) -> str:
    """A new empty database on the server of ``url``; returns its URL."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"peer_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
