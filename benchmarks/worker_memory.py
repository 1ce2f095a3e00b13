"""Peak RSS of one ``rota worker`` process working through N pre-enqueued no-op jobs.

    .venv/bin/python benchmarks/worker_memory.py [--stores sqlite,redis,postgres] [--jobs 20000]
        [--handlers record,noop] [--configs defaults,tuned] [--repeat R]
        [--tuned "--concurrency 1000 --claim-batch 500"]

For each store, handler and configuration: a fresh namespace gets N jobs, ``rota worker`` is
spawned (rota's own CLI, as benchmarks/run.py spawns it), and once the store counts all N
succeeded, its peak resident set (``VmHWM`` from /proc/<pid>/status, summed over the process
tree, as run.py reads it) and its resident set then (``VmRSS``) are printed. Handlers:
``record`` is run.py's (``_rota_cli_app.py``: one redis.asyncio call per job to a Redis server
of this script's own, so redis-py is in the worker whatever the store); ``noop`` does nothing
(``_rota_noop_app.py``: rota's own memory). Redis and PostgreSQL run on throwaway servers
(benchmarks/_servers.py); Linux only (/proc). The target of issue #16: 50 MB at most, tuned.
The worker runs from run.py's ``benchmarks/.venv-rota`` (``rota[redis,postgres]`` only, as a
deployment installs it) unless ``--python`` names another interpreter."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _measure import log_tail, peak_rss_mb, process_tree, spawn, stop  # noqa: E402
from _rota_cli_app import NOOP, build  # noqa: E402
from _servers import fresh_url, redis_server, server_for  # noqa: E402

from rota._models import JobStatus  # noqa: E402

TUNED = "--concurrency 1000 --claim-batch 500"
APPS = {"record": "_rota_cli_app:app", "noop": "_rota_noop_app:app"}
BULK = 1_000
POLL = 0.05
TIMEOUT = 600.0


def rss_mb(root: int) -> float:
    """The process tree's resident set now (VmRSS), MB."""
    total = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


async def enqueue(url: str, n: int) -> None:
    app = build(url)
    await app.open()
    try:
        specs = [app.get_task(NOOP).prepare() for _ in range(min(BULK, n))]
        for i in range(0, n, BULK):
            await app.enqueue_many(specs[: min(BULK, n - i)])
    finally:
        await app.close()


async def measure(
    store: str, base: str, handler: str, args: list[str], n: int, record_url: str, workdir: Path, python: Path
) -> dict[str, float]:
    """One worker over n fresh jobs: its peak and final RSS (MB) and jobs/s, spawn to durable."""
    url = fresh_url(store, base)
    await enqueue(url, n)
    cmd = [str(python), str(python.parent / "rota"), "worker", APPS[handler], *args]
    env = {"BENCH_URL": url, "BENCH_RECORD_URL": record_url, "BENCH_RECORD_KEY": "bench:memory"}
    log = workdir / f"{store}-{handler}-worker.log"
    app = build(url)
    await app.open()
    t0 = time.time()
    proc = spawn(cmd, log, env, HERE)
    try:
        while (done := (await app.store.stats()).total(JobStatus.SUCCEEDED)) < n:
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {proc.returncode}: {log_tail(log)}")
            if time.time() - t0 > TIMEOUT:
                raise TimeoutError(f"{done}/{n} jobs after {TIMEOUT:.0f} s: {log_tail(log)}")
            await asyncio.sleep(POLL)
        took = time.time() - t0
        peak, _ = peak_rss_mb(proc.pid)
        end = rss_mb(proc.pid)
    finally:
        stop(proc)
        await app.close()
    return {"peak_mb": peak or 0.0, "end_mb": end, "jobs_s": n / took}


@contextlib.contextmanager
def record_server(handlers: list[str]) -> Iterator[str]:
    """The Redis server run.py's handler records to (none for the no-op handler alone)."""
    if "record" not in handlers:
        yield ""
        return
    with redis_server(persist=False) as url:
        yield url


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", default="sqlite,redis,postgres")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--handlers", default="record,noop", help="of record,noop")
    parser.add_argument("--configs", default="defaults,tuned", help="of defaults,tuned")
    parser.add_argument("--tuned", default=TUNED, help=f"the tuned worker's arguments (default {TUNED!r})")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each row; the median is shown")
    parser.add_argument(
        "--python", type=Path, default=None,
        help="the worker's interpreter (default: run.py's benchmarks/.venv-rota, rota[redis,postgres] only)",
    )  # fmt: skip
    return parser.parse_args()


def main() -> None:
    opts = parse_args()
    if opts.python is None:
        from run import ROTA_PY, ensure_rota_venv

        ensure_rota_venv()
        opts.python = ROTA_PY
    handlers = [h for h in opts.handlers.split(",") if h]
    configs = {"defaults": [], "tuned": shlex.split(opts.tuned)}
    chosen = [c for c in opts.configs.split(",") if c]
    print(f"{opts.jobs:,} jobs, median of {opts.repeat}; peak: VmHWM once all succeeded; end: VmRSS then")
    print(f"{'store':<9} {'handler':<7} {'config':<9} {'peak MB':>8} {'end MB':>7} {'jobs/s':>8}")
    with record_server(handlers) as record_url, tempfile.TemporaryDirectory(prefix="rota-mem-") as tmp:
        for store in [s for s in opts.stores.split(",") if s]:
            with server_for(store) as base:
                for handler, config in [(h, c) for h in handlers for c in chosen]:
                    row = f"{store:<9} {handler:<7} {config:<9}"
                    try:
                        runs = [
                            asyncio.run(measure(
                                store, base, handler, configs[config], opts.jobs, record_url, Path(tmp),
                                opts.python,
                            ))
                            for _ in range(opts.repeat)
                        ]  # fmt: skip
                    except Exception as exc:
                        print(f"{row} error: {exc}", flush=True)
                        continue
                    mid = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                    figures = f"{mid['peak_mb']:>8.1f} {mid['end_mb']:>7.1f} {mid['jobs_s']:>8,.0f}"
                    print(f"{row} {figures}", flush=True)


if __name__ == "__main__":
    main()
