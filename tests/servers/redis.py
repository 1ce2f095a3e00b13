"""Redis fixtures: a throwaway redis-server (AOF on) and a three-master Redis Cluster, started
once per session on free loopback ports unless ROTA_REDIS_URL / ROTA_REDIS_CLUSTER_URL name
servers to use. Each test gets a fresh key prefix, so tests never see each other's data."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from rota.stores.base import Store
from rota.testing import FakeClock
from rota.testing.conformance import Harness
from tests.servers._common import find_binary, free_port, unavailable

_READY = "Ready to accept connections"


@dataclass
class RedisServer:
    """One redis-server process with AOF on (appendfsync everysec), restartable in place."""

    directory: Path
    port: int = field(default_factory=free_port)
    extra: tuple[str, ...] = ()
    process: subprocess.Popen[str] | None = None
    log: list[str] = field(default_factory=list)
    _drainer: threading.Thread = field(init=False, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = find_binary("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found (run scripts/install-servers.sh)")
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--protected-mode", "no", "--logfile", "", "--daemonize", "no", *self.extra,
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.process.stdout is not None
        # the server says when it is ready (after loading its AOF): read its log, no sleeping
        for line in self.process.stdout:
            self.log.append(line)
            if _READY in line:
                break
        else:
            self.process.wait(timeout=30)
            self.process.stdout.close()
            self.process = None
            raise RuntimeError("redis-server exited:\n" + "".join(self.log[-20:]))
        # keep reading so a chatty server never blocks on a full pipe
        self._drainer = threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True)
        self._drainer.start()

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self.log.append(line)

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=30)
        self._drainer.join(timeout=10)  # the log pipe reaches EOF once the server is gone
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None


def _start_single(tmp: Path) -> RedisServer:
    server = RedisServer(tmp / "single")
    server.start()
    return server


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too; Redis caps it at 55535."""
    for _ in range(200):
        port = free_port()
        if port <= 55535 and _port_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _start_cluster(tmp: Path) -> list[RedisServer]:
    cli = find_binary("redis-cli")
    if cli is None:
        raise RuntimeError("redis-cli not found")
    nodes: list[RedisServer] = []
    try:
        for i in range(3):
            node = RedisServer(
                tmp / f"node{i}",
                port=_cluster_port(),
                extra=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                       "--cluster-node-timeout", "5000"),
            )  # fmt: skip
            nodes.append(node)
            node.start()
        addrs = [f"127.0.0.1:{n.port}" for n in nodes]
        done = subprocess.run(
            [cli, "--cluster", "create", *addrs, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout}{done.stderr}")
        _wait_until_converged(cli, nodes)
    except BaseException:
        for n in nodes:  # never leave a half-built cluster running
            n.stop()
        raise
    return nodes


def _wait_until_converged(cli: str, nodes: list[RedisServer], timeout: float = 30.0) -> None:
    """``--cluster create`` returns before every node has heard of every other one; a client
    arriving then sees CLUSTERDOWN. Wait until each node reports the whole cluster ok."""
    deadline = time.monotonic() + timeout
    while True:
        ready = True
        for node in nodes:
            info = subprocess.run(
                [cli, "-p", str(node.port), "cluster", "info"],
                capture_output=True, text=True, timeout=10, check=False,
            ).stdout  # fmt: skip
            fields = dict(line.split(":", 1) for line in info.split() if ":" in line)
            if (
                fields.get("cluster_state") != "ok"
                or fields.get("cluster_known_nodes") != str(len(nodes))
                or fields.get("cluster_slots_ok") != "16384"
            ):
                ready = False
                break
        if ready:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis cluster did not converge within {timeout:g}s")
        time.sleep(0.05)  # server start-up, not a test condition


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    given = os.environ.get("ROTA_REDIS_URL")
    if given:
        yield given
        return
    if find_binary("redis-server") is None:
        unavailable("redis", "redis-server not found and ROTA_REDIS_URL not set")
    with tempfile.TemporaryDirectory(prefix="rota-redis-") as tmp:
        try:
            server = _start_single(Path(tmp))
        except RuntimeError as exc:
            unavailable("redis", str(exc))
            return
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture(scope="session")
def rediscluster_url() -> Iterator[str]:
    given = os.environ.get("ROTA_REDIS_CLUSTER_URL")
    if given:
        yield given if "cluster=" in given else given + ("&" if "?" in given else "?") + "cluster=true"
        return
    if find_binary("redis-server") is None or find_binary("redis-cli") is None:
        unavailable("rediscluster", "redis-server/redis-cli not found and ROTA_REDIS_CLUSTER_URL not set")
    with tempfile.TemporaryDirectory(prefix="rota-rcluster-") as tmp:
        nodes: list[RedisServer] = []
        for attempt in range(3):  # a port taken between the check and the start: try others
            try:
                nodes = _start_cluster(Path(tmp) / str(attempt))
                break
            except RuntimeError as exc:
                if attempt == 2:
                    unavailable("rediscluster", str(exc))
                    return
        try:
            yield f"redis://127.0.0.1:{nodes[0].port}/0?cluster=true"
        finally:
            for node in nodes:
                node.stop()


def with_prefix(url: str, prefix: str) -> str:
    return url + ("&" if "?" in url else "?") + f"prefix={prefix}"


async def _harness(url: str, backend: str) -> AsyncIterator[Harness]:
    from rota._errors import StoreUnavailable
    from rota.stores.redis import from_url

    full = with_prefix(url, f"t{uuid.uuid4().hex[:12]}")
    store = from_url(full)
    try:
        await store.open()
    except StoreUnavailable as exc:
        unavailable(backend, str(exc))

    async def connect() -> Store:
        other = from_url(full)
        await other.open()
        return other

    harness = Harness(
        store=store, clock=FakeClock(), connect=connect, multiprocess=True, unopened=lambda: from_url(full)
    )
    try:
        yield harness
    finally:
        await harness.aclose()
        await store.close()


@pytest.fixture
async def redis_harness(redis_url: str) -> AsyncIterator[Harness]:
    async for h in _harness(redis_url, "redis"):
        yield h


@pytest.fixture
async def rediscluster_harness(rediscluster_url: str) -> AsyncIterator[Harness]:
    async for h in _harness(rediscluster_url, "rediscluster"):
        yield h
