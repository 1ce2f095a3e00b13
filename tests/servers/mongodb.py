"""A throwaway FerretDB (MongoDB wire protocol over SQLite) for the store tests, and the
``mongodb_harness`` fixture.

``ROTA_MONGODB_URL`` points the tests at an existing MongoDB-compatible server instead (each
test still gets its own database, dropped afterwards). Otherwise one FerretDB is started per
session on a free 127.0.0.1 port with its SQLite files in a temporary directory, telemetry
off and its debug HTTP listener off. The binary comes from scripts/install-ferretdb.sh.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import pytest

from rota.testing import FakeClock
from rota.testing.conformance import Harness
from tests.servers._common import find_binary, free_port, unavailable

_START_TIMEOUT = 30.0


@dataclass
class MongoServer:
    """A running server: ``url`` has no database. ``binary`` is None for an external one."""

    url: str
    binary: str | None = None
    data_dir: str | None = None
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    postgresql_url: str | None = None  # FerretDB's PostgreSQL backend instead of SQLite

    @property
    def log(self) -> str:
        return os.path.join(self.data_dir or "", "ferretdb.log")

    def start(self) -> None:
        """Start FerretDB (again, on the same port and data) and wait until it accepts connections."""
        if self.binary is None or self.data_dir is None:
            raise RuntimeError("the server is external; it cannot be controlled")
        sqlite_dir = os.path.join(self.data_dir, "sqlite")
        os.makedirs(sqlite_dir, exist_ok=True)
        backend = (
            ["--handler=postgresql", f"--postgresql-url={self.postgresql_url}"]
            if self.postgresql_url
            else ["--handler=sqlite", f"--sqlite-url=file:{sqlite_dir}/"]
        )
        cmd = [
            self.binary,
            *backend,
            f"--listen-addr=127.0.0.1:{self.port}",
            "--debug-addr=-",  # no HTTP debug listener at all
            "--telemetry=disable",
            f"--state-dir={self.data_dir}",
            "--log-level=warn",
        ]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ferretdb exited with {self.proc.returncode}; log: {_tail(self.log)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)  # server start-up, not a test condition
        self.stop()
        raise RuntimeError(f"ferretdb did not listen within {_START_TIMEOUT}s; log: {_tail(self.log)}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_ferretdb(postgresql_url: str | None = None) -> MongoServer:
    """FerretDB over SQLite in a temp dir, or over the PostgreSQL database at ``postgresql_url``."""
    binary = find_binary("ferretdb")
    if binary is None:
        raise RuntimeError("ferretdb not found (run scripts/install-ferretdb.sh)")
    port = free_port()
    server = MongoServer(
        url=f"mongodb://127.0.0.1:{port}",
        binary=binary,
        data_dir=tempfile.mkdtemp(prefix="rota-ferretdb-"),
        port=port,
        postgresql_url=postgresql_url,
    )
    try:
        server.start()
    except (RuntimeError, OSError):
        shutil.rmtree(server.data_dir or "", ignore_errors=True)
        raise
    return server


def _tail(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()[-2000:]
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def mongodb_server() -> Iterator[MongoServer]:
    external = os.environ.get("ROTA_MONGODB_URL")
    if external:
        parts = urlsplit(external)
        yield MongoServer(urlunsplit(parts._replace(path="")))
        return
    try:
        server = start_ferretdb()
    except (RuntimeError, OSError) as exc:
        unavailable("mongodb", str(exc))
        raise AssertionError("unreachable") from None  # unavailable() skips or fails
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.data_dir or "", ignore_errors=True)


def database_url(server: MongoServer, database: str, query: str = "") -> str:
    parts = urlsplit(server.url)
    return urlunsplit(parts._replace(path=f"/{database}", query=query or parts.query))


async def drop_database(server: MongoServer, database: str) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(server.url, serverSelectionTimeoutMS=5000)
    try:
        await client.drop_database(database)
    finally:
        await client.close()


@pytest.fixture
async def mongodb_harness(mongodb_server: MongoServer) -> AsyncIterator[Harness]:
    """A fresh database per test, opened (indexes built) through the store itself; dropped after."""
    from rota.stores.mongodb import MongoStore, from_url

    database = f"rota_t_{uuid.uuid4().hex[:16]}"
    url = database_url(mongodb_server, database)
    store = from_url(url)
    try:
        await store.open()
    except Exception as exc:  # a server that went away mid-session
        unavailable("mongodb", f"cannot open the store: {exc}")

    async def connect() -> MongoStore:
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
        await drop_database(mongodb_server, database)
