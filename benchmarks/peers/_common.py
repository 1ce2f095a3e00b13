"""Shared by the peer benchmarks (run with benchmarks/.venv-peers/bin/python).

The same method as rota's side: pre-enqueue N no-op jobs, spawn ONE worker process with the
library's own CLI, and time from the spawn until the N-th handler ran (nothing subtracted).
Handlers call ``mark()``: it counts in the worker process and, at N, writes the first and last
handler times to ``BENCH_DONE``. With a float argument it records a pickup latency instead.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

N = int(os.environ.get("BENCH_N", "0"))
DONE = os.environ.get("BENCH_DONE", "")
LAT = os.environ.get("BENCH_LAT", "")
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent  # the peers venv's console scripts

GAP = [0.01, 0.04]  # pickup: random pause between jobs (set from --gap)
_count = itertools.count(1)  # next() is atomic under the GIL: safe from worker threads
_first: list[float] = []


def mark(t: float | None = None) -> None:
    now = time.time()
    if t:
        with open(LAT, "a", encoding="ascii") as out:
            out.write(f"{now - t:.9f}\n")
        return
    k = next(_count)
    if k == 1:
        _first.append(now)
    if k == N:
        tmp = DONE + ".tmp"
        with open(tmp, "w", encoding="ascii") as out:
            out.write(f"{_first[0]} {now}")
        os.replace(tmp, DONE)


def args() -> argparse.Namespace:
    """The driver's options; also makes SIGTERM unwind so a running worker is stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=1_000, help="jobs for the single-enqueue rate")
    parser.add_argument("--samples", type=int, default=0, help="pickup samples (0: skip)")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--variant", default="", help="a peer-specific setting to try")
    parser.add_argument("--memory", type=int, default=0, help="Redis memory per delayed job over N jobs")
    parser.add_argument("--gap", default="0.01,0.04", help="pickup: random pause between jobs, min,max s")
    parsed = parser.parse_args()
    GAP[:] = [float(x) for x in parsed.gap.split(",")]
    return parsed


async def call(fn: Callable[..., Any], *a: Any) -> Any:
    result = fn(*a)
    if inspect.isawaitable(result):
        return await result
    return result


def spawn(cmd: list[str], workdir: Path, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("ab")
    full_env = {**os.environ, **env, "PYTHONPATH": str(HERE), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, cwd=HERE, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                            start_new_session=True)  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker's whole process group (some CLIs fork children), then SIGKILL."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


async def timed_enqueue(enqueue: Callable[[int], Any], n: int) -> float:
    t0 = time.perf_counter()
    await call(enqueue, n)
    return n / (time.perf_counter() - t0)


async def processing(
    cmd: list[str], n: int, workdir: Path, name: str, timeout: float = 300.0
) -> dict[str, float]:
    """Spawn the worker on ``n`` pre-enqueued jobs; jobs/s from spawn to the N-th handler."""
    done = workdir / f"{name}.done"
    done.unlink(missing_ok=True)
    t0 = time.time()
    proc = spawn(cmd, workdir, name, {"BENCH_N": str(n), "BENCH_DONE": str(done)})
    try:
        while not done.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} worker exited with {proc.returncode}; see {workdir}/{name}.log")
            if time.time() - t0 > timeout:
                raise TimeoutError(f"{name}: not done after {timeout}s")
            await asyncio.sleep(0.005)
    finally:
        stop(proc)
    first, last = map(float, done.read_text().split())
    return {"jobs_s": n / (last - t0), "steady_jobs_s": n / (last - first), "startup_s": first - t0}


def _lines(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except FileNotFoundError:
        return 0


async def _wait_lines(path: Path, count: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    t0 = time.time()
    while _lines(path) < count:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}")
        if time.time() - t0 > timeout:
            raise TimeoutError(f"pickup: {_lines(path)}/{count} jobs ran in {timeout}s")
        await asyncio.sleep(0.002)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def pickup(
    cmd: list[str], enqueue_one: Callable[[float], Awaitable[None] | None], samples: int, workdir: Path,
    name: str,
) -> dict[str, float]:  # fmt: skip
    """Idle pickup: one job at a time after a random pause; latency = handler start time.time()
    minus the time.time() taken just before the enqueue call."""
    lat = workdir / f"{name}.lat"
    lat.unlink(missing_ok=True)
    proc = spawn(cmd, workdir, name + "-pickup", {"BENCH_LAT": str(lat)})
    try:
        warm = 3
        for i in range(warm):  # the worker is up and idle once these ran
            await call(enqueue_one, time.time())
            await _wait_lines(lat, i + 1, proc, 60)
        for _ in range(samples):
            await asyncio.sleep(random.uniform(*GAP))
            await call(enqueue_one, time.time())
        await _wait_lines(lat, warm + samples, proc, 60)
    finally:
        stop(proc)
    values = [float(x) for x in lat.read_text().split()][warm:]
    return {"p50_ms": percentile(values, 50) * 1e3, "p99_ms": percentile(values, 99) * 1e3}


def report(result: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(result), flush=True)


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
