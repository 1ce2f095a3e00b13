"""The measurements, one method for rota and for every peer (stdlib and redis-py only: the
drivers import it in rota's virtualenv and in the peers' one).

A driver (``benchmarks/_rota_bench.py``, ``benchmarks/peers/<peer>_bench.py``) says how its
system enqueues (one job, many jobs, one job now or at an instant) and which command starts
its worker (the system's own CLI); ``main()`` runs the phases run.py asks for and prints one
``RESULT {json}`` line. Every handler makes the same one Redis call (``_record.py``) to a Redis
server of the harness's own, so counting and timing are done the same way for every system:

* **processing**: N jobs are enqueued first; the worker is spawned; jobs/s is N over the time
  from the spawn to the N-th handler start (start-up included), ``steady`` N over the time
  from the first handler start; the worker's peak RSS (VmHWM of its process tree) is read
  before it is stopped.
* **pickup**: the worker idles; one job at a time, after a random pause, carrying the
  ``time.time()`` taken just before the enqueue call; latency = handler start - that time.
* **delayed**: jobs due at known instants (a random 10-40 ms apart, all enqueued before the
  first is due); lateness = handler start - due instant.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import inspect
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
POLL = 0.005  # how often the harness reads the record list's length
STALL = 30.0  # no handler ran for this long (after start-up): the worker is stuck, give up
STARTUP = 60.0  # no handler ran this long after the spawn: the worker does not start
WARM = 3  # latency phases: jobs run one by one before measuring (the worker is then idle)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        return await result
    return result


# -- worker processes -------------------------------------------------------------------------


def _prctl() -> Any:
    try:
        return ctypes.CDLL(None).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _prctl()  # looked up here: the forked child only calls it


def die_with_parent() -> None:
    """In the child before exec: the kernel kills it when its parent dies, however that dies,
    so no worker outlives a killed benchmark (Linux; elsewhere stop() must do)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(cmd: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start a worker in its own process group (some CLIs fork children), output to ``log``."""
    # the worker imports its app module from ``cwd`` and the handlers' call from here
    path = os.pathsep.join(dict.fromkeys([str(cwd), str(HERE)]))
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **env, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"},
            # a preexec_fn is unsafe with threads that hold locks; this one calls one C function
            start_new_session=True, preexec_fn=die_with_parent,  # noqa: PLW1509
        )  # fmt: skip


def stop(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the worker's whole process group, SIGKILL it after ``grace`` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass
    with contextlib.suppress(ProcessLookupError):  # children that outlived their parent (a CLI that forks)
        os.killpg(proc.pid, signal.SIGKILL)


def log_tail(log: Path, lines: int = 3) -> str:
    """The last lines of a worker's log, for an error message (the logs go with the run)."""
    try:
        tail = log.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return " | ".join(line.strip()[:200] for line in tail)


def _status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (from /proc; just ``[root]`` where there is no /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def peak_rss_mb(root: int) -> tuple[float | None, int]:
    """(sum of VmHWM — each process's peak resident set — over the process tree in MB, the
    number of processes); (None, 0) without /proc."""
    if not Path("/proc/self/status").exists():
        return None, 0
    tree = process_tree(root)
    return sum(_status_kb(pid, "VmHWM") for pid in tree) / 1024, len(tree)


# -- the record list ---------------------------------------------------------------------------


class Records:
    """The harness's side of ``_record.py``: one list per worker process spawned."""

    def __init__(self, url: str) -> None:
        import redis

        self.url = url
        self.client = redis.Redis.from_url(url)

    def new_key(self, name: str) -> str:
        return f"bench:{name}:{uuid.uuid4().hex[:8]}"

    def count(self, key: str) -> int:
        return int(self.client.llen(key))

    def values(self, key: str) -> list[float]:
        return [float(v) for v in self.client.lrange(key, 0, -1)]

    def env(self, key: str) -> dict[str, str]:
        return {"BENCH_RECORD_URL": self.url, "BENCH_RECORD_KEY": key}

    def close(self) -> None:
        self.client.close()


async def _wait_count(
    records: Records, key: str, count: int, proc: subprocess.Popen[bytes], timeout: float, what: str,
    log: Path,
) -> None:  # fmt: skip
    t0 = time.time()
    while (done := records.count(key)) < count:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{what}: the worker exited with {proc.returncode} after {done}/{count} jobs: {log_tail(log)}"
            )
        if time.time() - t0 > timeout:
            raise TimeoutError(f"{what}: {done}/{count} jobs ran within {timeout:.0f} s")
        await asyncio.sleep(0.002)


# -- a system, as a driver describes it ----------------------------------------------------------


@dataclass
class System:
    """What the measurements need from a driver. Callables may be sync or async.

    ``reset`` gives a fresh, empty namespace (a new database, a flushed Redis...) before each
    phase and may change ``env``/``cmd`` for the worker; ``enqueue_one()`` queues one no-op job
    in one call; ``enqueue_many(n)`` queues n no-op jobs with the system's bulk call (None: it
    has none, so the N jobs of a processing run are queued one call each); ``enqueue_now(t)`` a
    job carrying t; ``enqueue_at(due)`` a job due at the epoch instant ``due`` carrying ``due``.
    """

    name: str
    cmd: list[str]
    settings: str
    reset: Callable[[], Any]
    enqueue_one: Callable[[], Any]
    enqueue_now: Callable[[float], Any]
    enqueue_at: Callable[[float], Any] | None
    enqueue_many: Callable[[int], Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = HERE
    after_processing: Callable[[int, float], Any] | None = None  # (n, last handler start) -> extra
    memory: Callable[[int], Any] | None = None  # n -> {"redis_bytes_per_delayed_job": ...}
    close: Callable[[], Any] | None = None


async def enqueue_rate(fn: Callable[[], Any], n: int) -> float:
    """jobs/s of n sequential one-job enqueue calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        await call(fn)
    return n / (time.perf_counter() - t0)


async def processing(
    system: System, records: Records, n: int, workdir: Path, timeout: float
) -> dict[str, Any]:
    """Queue n jobs (timed: the bulk rate, or n single calls), spawn the worker, time it to the
    n-th handler start; read its peak RSS, stop it. Raises if it stalls, exits or overruns."""
    await call(system.reset)
    t0 = time.perf_counter()
    if system.enqueue_many is not None:
        await call(system.enqueue_many, n)
    else:
        for _ in range(n):
            await call(system.enqueue_one)
    out: dict[str, Any] = {"enqueue_n_jobs_s": n / (time.perf_counter() - t0)}
    key = records.new_key(system.name)
    log = workdir / f"{system.name}-worker.log"
    spawned = time.time()
    proc = spawn(system.cmd, log, {**system.env, **records.env(key)}, system.cwd)
    try:
        seen, moved = -1, time.time()
        while (done := records.count(key)) < n:
            now = time.time()
            if done != seen:
                seen, moved = done, now
            elif done == 0 and now - spawned > STARTUP:
                raise TimeoutError(f"no job ran within {STARTUP:.0f} s of the spawn: {log_tail(log)}")
            elif done > 0 and now - moved > STALL:
                raise TimeoutError(f"stalled at {done}/{n} jobs for {STALL:.0f} s: {log_tail(log)}")
            if now - spawned > timeout:
                raise TimeoutError(f"{done}/{n} jobs after {timeout:.0f} s: {log_tail(log)}")
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the worker exited with {proc.returncode} after {done}/{n} jobs: {log_tail(log)}"
                )
            await asyncio.sleep(POLL)
        rss, procs = peak_rss_mb(proc.pid)
        stamps = records.values(key)
    finally:
        stop(proc)
    first, last = min(stamps), max(stamps)
    out |= {
        "jobs_s": n / (last - spawned), "steady_jobs_s": n / (last - first) if last > first else None,
        "startup_s": first - spawned, "rss_mb": rss, "processes": procs, "handler_runs": len(stamps),
    }  # fmt: skip
    if system.after_processing is not None:
        out |= await call(system.after_processing, n, last)
    return out


async def latency(
    system: System, records: Records, samples: int, delayed: int, gap: tuple[float, float], workdir: Path
) -> dict[str, Any]:
    """Pickup (``samples`` jobs) then delayed-job lateness (``delayed`` jobs), one idle worker."""
    await call(system.reset)
    key = records.new_key(system.name + "-latency")
    log = workdir / f"{system.name}-latency.log"
    proc = spawn(system.cmd, log, {**system.env, **records.env(key)}, system.cwd)
    out: dict[str, Any] = {}
    try:
        for i in range(WARM):  # the worker is up and idle once these ran
            await call(system.enqueue_now, time.time())
            await _wait_count(records, key, i + 1, proc, 60, "warm-up", log)
        for _ in range(samples):
            await asyncio.sleep(random.uniform(*gap))
            await call(system.enqueue_now, time.time())
        await _wait_count(records, key, WARM + samples, proc, 60, "pickup", log)
        if delayed and system.enqueue_at is not None:
            await asyncio.sleep(random.uniform(*gap))
            lead = 1.0 + 0.005 * delayed  # every job is queued before the first is due
            due = time.time() + lead
            dues = []
            for _ in range(delayed):
                dues.append(due)
                due += random.uniform(*gap)
            for when in dues:
                await call(system.enqueue_at, when)
            out["delayed_enqueue_overran_s"] = max(0.0, time.time() - dues[0])
            wait = dues[-1] - time.time() + 60
            await _wait_count(records, key, WARM + samples + delayed, proc, wait, "delayed", log)
        values = records.values(key)
    finally:
        stop(proc)
    pickup = values[WARM : WARM + samples]
    if pickup:
        out |= {"pickup_p50_ms": percentile(pickup, 50) * 1e3, "pickup_p99_ms": percentile(pickup, 99) * 1e3}
    late = values[WARM + samples :]
    if late:
        out |= {"delayed_p50_ms": percentile(late, 50) * 1e3, "delayed_p99_ms": percentile(late, 99) * 1e3}
    return out


# -- the driver's entry point ----------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    """The driver's options (run.py passes them); a SIGTERM unwinds so the worker is stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="the store server (or SQLite directory)")
    parser.add_argument("--record-url", required=True, help="the harness's Redis for the handlers' call")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--phases", default="single,process,latency", help="of single,process,latency,memory")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=2_000, help="jobs for the single-enqueue rate")
    parser.add_argument("--samples", type=int, default=200, help="pickup samples")
    parser.add_argument("--delayed", type=int, default=200, help="delayed-job samples")
    parser.add_argument("--gap", default="0.01,0.04", help="latency: random pause between jobs, min,max s")
    parser.add_argument("--memory", type=int, default=0, help="Redis memory per delayed job over N jobs")
    parser.add_argument("--timeout", type=float, default=600.0, help="one processing run, s")
    parser.add_argument("--variant", default="", help="a system-specific setting (see each driver)")
    parser.add_argument("--worker-args", default="", help="rota only: extra `rota worker` arguments")
    parser.add_argument("--label", default="", help="rota only: the name of this configuration")
    return parser.parse_args()


async def run(system: System, a: argparse.Namespace) -> None:
    """Run the requested phases and print ``RESULT {json}`` (errors per phase, never a hang)."""
    workdir = Path(a.workdir)
    phases = [p.strip() for p in a.phases.split(",") if p.strip()]
    gap_min, gap_max = (float(x) for x in a.gap.split(","))
    records = Records(a.record_url)
    result: dict[str, Any] = {"settings": system.settings, "cmd": " ".join(system.cmd)}
    errors: list[str] = []
    try:
        for phase in phases:
            try:
                if phase == "single":
                    await call(system.reset)
                    result["enqueue_single_jobs_s"] = await enqueue_rate(system.enqueue_one, a.single)
                elif phase == "process":
                    result |= await processing(system, records, a.jobs, workdir, a.timeout)
                elif phase == "latency":
                    result |= await latency(
                        system, records, a.samples, a.delayed, (gap_min, gap_max), workdir
                    )
                elif phase == "memory" and system.memory is not None and a.memory:
                    await call(system.reset)
                    result |= await call(system.memory, a.memory)
            except Exception as exc:
                errors.append(f"{phase}: {type(exc).__name__}: {exc}")
    finally:
        records.close()
        if system.close is not None:
            await call(system.close)
    if system.enqueue_many is not None and "enqueue_n_jobs_s" in result:
        result["enqueue_bulk_jobs_s"] = result["enqueue_n_jobs_s"]
    if errors:
        result["errors"] = errors
    print("RESULT " + json.dumps(result), flush=True)
