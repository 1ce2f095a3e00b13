"""A throwaway PostgreSQL cluster for the store tests, and the ``postgres_harness`` fixture.

``ROTA_POSTGRES_URL`` points the tests at an existing server instead (each test still gets
its own schema, dropped afterwards). Otherwise one cluster is initialised per session in a
temporary directory, listening on a free 127.0.0.1 port with fsync off. PostgreSQL refuses
to run as root, so under root (CI) the cluster belongs to the ``postgres`` OS user (created
by the OS package), or ``nobody`` when that user does not exist.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

from rota.testing import FakeClock
from rota.testing.conformance import Harness
from tests.servers._common import find_binary, free_port, unavailable


def _pg_dirs() -> list[str]:
    """The OS package's binary dirs, newest version first."""
    root = "/usr/lib/postgresql"
    versions = os.listdir(root) if os.path.isdir(root) else []
    return [os.path.join(root, v, "bin") for v in sorted(versions, reverse=True)]


@dataclass
class PgServer:
    """A running cluster (or an external server when ``data_dir`` is None)."""

    url: str  # postgresql://user@host:port/db, no query
    data_dir: str | None = None
    pg_ctl: str | None = None
    run_as: tuple[int, int] | None = None  # uid, gid to drop to when we are root
    log: str | None = None
    opts: str = ""  # server options (port, socket dir...): pg_ctl start needs them each time

    def ctl(self, action: str, *args: str) -> None:
        """Run ``pg_ctl <action> <args>`` on this cluster (stop, start, restart)."""
        if self.data_dir is None or self.pg_ctl is None:
            raise RuntimeError("the server is external; it cannot be controlled")
        cmd = [self.pg_ctl, "-D", self.data_dir, "-l", str(self.log), "-w", "-t", "60"]
        if action in ("start", "restart"):
            cmd += ["-o", self.opts]
        _run([*cmd, action, *args], self.run_as)

    def stop(self) -> None:
        if self.data_dir is not None and self.pg_ctl is not None:
            subprocess.run(
                [self.pg_ctl, "-D", self.data_dir, "-m", "immediate", "-w", "stop"],
                check=False,
                capture_output=True,
                **_user_kwargs(self.run_as),
            )


def _user_kwargs(run_as: tuple[int, int] | None) -> dict[str, Any]:
    if run_as is None:
        return {}
    # from a directory the unprivileged user can enter (the checkout may not be readable)
    return {"user": run_as[0], "group": run_as[1], "extra_groups": [], "cwd": "/"}


def _run(cmd: list[str], run_as: tuple[int, int] | None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **_user_kwargs(run_as))
    if proc.returncode != 0:
        raise RuntimeError(f"{os.path.basename(cmd[0])} failed: {proc.stderr.strip() or proc.stdout}")


def _unprivileged_user() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


def start_cluster() -> PgServer:
    """initdb + pg_ctl start a fresh cluster; raises RuntimeError with the reason on failure."""
    initdb = find_binary("initdb", *_pg_dirs())
    pg_ctl = find_binary("pg_ctl", *_pg_dirs())
    if initdb is None or pg_ctl is None:
        raise RuntimeError("initdb/pg_ctl not found (run scripts/install-servers.sh)")
    run_as = _unprivileged_user()
    # not under pytest's 0700 tmp tree: the postgres user must be able to reach it
    base = tempfile.mkdtemp(prefix="rota-pg-")
    os.chmod(base, 0o755)  # the socket dir must be reachable by the client
    if run_as is not None:
        os.chown(base, *run_as)
    data = os.path.join(base, "data")
    log = os.path.join(base, "server.log")
    _run([initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"], run_as)
    port = free_port()
    opts = f"-k {base} -h 127.0.0.1 -p {port} -F -c max_connections=200 -c fsync=off"
    opts += " -c synchronous_commit=off -c full_page_writes=off"
    server = PgServer(f"postgresql://postgres@127.0.0.1:{port}/postgres", data, pg_ctl, run_as, log, opts)
    try:
        server.ctl("start")
    except RuntimeError as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"{exc}; log: {_tail(log)}") from None
    return server


def remove_cluster(server: PgServer) -> None:
    server.stop()
    if server.data_dir is not None:
        shutil.rmtree(os.path.dirname(server.data_dir), ignore_errors=True)


def _tail(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()[-2000:]
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    external = os.environ.get("ROTA_POSTGRES_URL")
    if external:
        yield PgServer(external)
        return
    try:
        server = start_cluster()
    except (RuntimeError, OSError) as exc:
        unavailable("postgres", str(exc))
        raise AssertionError("unreachable") from None  # unavailable() skips or fails
    try:
        yield server
    finally:
        remove_cluster(server)


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode(params)))


async def _admin(server_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def postgres_harness(postgres_server: PgServer) -> AsyncIterator[Harness]:
    """A fresh schema per test, opened (migrated) through the store itself; dropped after."""
    from rota.stores.postgres import PostgresStore, from_url

    schema = f"t_{uuid.uuid4().hex[:16]}"
    url = with_query(postgres_server.url, schema=schema)
    store = from_url(url)
    try:
        await store.open()
    except Exception as exc:  # a server that went away mid-session
        unavailable("postgres", f"cannot open the store: {exc}")

    async def connect() -> PostgresStore:
        other = from_url(url)
        await other.open()
        return other

    harness = Harness(
        store=store, clock=FakeClock(), connect=connect, multiprocess=True, unopened=lambda: from_url(url)
    )
    try:
        yield harness
    finally:
        await harness.aclose()
        await store.close()
        await _admin(postgres_server.url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
