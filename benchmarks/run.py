"""rota against its peers, measured in the same run on the same throwaway servers.

    .venv/bin/python benchmarks/run.py [--stores sqlite,redis,postgres,mongodb,mongodb-pg,memory]
        [--jobs N] [--no-peers] [--quick] [--concurrency C] [--claim-batch B]

For each store: rota's enqueue rates (single and bulk), processing jobs/s of N pre-enqueued
no-op jobs with 1 and 4 worker processes, and idle pickup latency; then each peer on the same
server (in benchmarks/.venv-peers, created on first use); Redis memory per delayed job; the
scheduler's idle CPU with 100,000 schedules. Prints tables and writes
benchmarks/results/<timestamp>.json. Method and figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _rota  # noqa: E402
from _servers import server_for  # noqa: E402

PEERS_VENV = HERE / ".venv-peers"
PEERS_PY = PEERS_VENV / "bin" / "python"
PEERS = {  # store -> peers measured on it
    "sqlite": ["huey"],
    "redis": ["huey", "dramatiq", "saq", "celery", "arq", "rq"],
    "postgres": ["procrastinate", "pgqueuer"],
    "mongodb": [],
    "mongodb-pg": [],  # the MongoDB store on FerretDB over PostgreSQL (see _servers.py)
    "memory": [],
}
QUICK_PEERS = {"huey", "dramatiq", "pgqueuer"}  # --quick: the fastest peers of each store only
# jobs per processing run on FerretDB: over SQLite it scans the collection for every command
# (docs/mongodb.md), so each costs time in proportion to the jobs stored
SLOW_JOBS = {"mongodb": 200, "mongodb-pg": 1_000}


def ensure_peers_venv() -> None:
    stamp = PEERS_VENV / ".installed"
    wanted = (HERE / "peers" / "requirements.txt").read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print("creating benchmarks/.venv-peers (one time)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    requirements = str(HERE / "peers" / "requirements.txt")
    subprocess.run([str(PEERS_PY), "-m", "pip", "install", "--quiet", "-r", requirements], check=True)
    stamp.write_text(wanted)


def peer_url(store: str, base: str) -> str:
    if store == "sqlite":
        return f"sqlite:///{base}/huey.db"
    return base


def run_peer(name: str, store: str, base: str, opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    url = peer_url(store, base)
    samples = opts.samples if (not opts.quick or name in ("huey", "pgqueuer")) else 0
    cmd = [
        str(PEERS_PY), str(HERE / "peers" / f"{name}_bench.py"), "--url", url, "--jobs", str(opts.jobs),
        "--single", str(opts.single), "--samples", str(samples), "--workdir", str(workdir),
        "--gap", ",".join(map(str, opts.gap)),
    ]  # fmt: skip
    if store == "redis" and name in ("arq", "saq") and opts.memory_jobs:
        cmd += ["--memory", str(opts.peer_memory_jobs)]
    env = {**os.environ, "BENCH_URL": url}
    env.pop("PYTHONPATH", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        stdout, stderr = proc.communicate(timeout=opts.peer_timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()  # the peer script stops its worker process on SIGTERM
        stdout, stderr = proc.communicate(timeout=30)
        stderr += f"\ntimed out after {opts.peer_timeout:.0f} s"
    returncode = proc.returncode
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if returncode != 0 or not lines:
        tail = (stderr or stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit {returncode}"}
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    result["bench_s"] = time.perf_counter() - t0
    return result


async def run_rota(store: str, base: str, opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from _servers import fresh_url

    tuning = _rota.WorkerTuning(opts.concurrency, opts.claim_batch)
    jobs, single = opts.jobs, opts.single
    if store in SLOW_JOBS:  # FerretDB is slow: fewer jobs, and batches it writes within STALL
        jobs, single = min(jobs, SLOW_JOBS[store]), min(single, SLOW_JOBS[store] // 10)
        tuning = _rota.WorkerTuning(min(tuning.concurrency, 100), min(tuning.claim_batch, 100))
    out: dict[str, Any] = {"settings": f"concurrency {tuning.concurrency}, claim_batch {tuning.claim_batch}"}
    errors: list[str] = []

    async def phase(name: str, work: Any) -> None:
        # a store still being finished may hang or fail: report it and go on with the rest
        try:
            out[name] = await asyncio.wait_for(work, opts.phase_timeout)
        except TimeoutError as exc:
            errors.append(f"{name}: TimeoutError {exc or f'not done within {opts.phase_timeout:.0f} s'}")
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__} {exc}".strip())

    await phase("enqueue_single_jobs_s", _rota.enqueue_single(fresh_url(store, base), single))
    if store == "memory":
        await phase("process_1", _rota.processing_in_process(jobs, tuning))
    else:
        await phase("process_1", _rota.processing(store, base, jobs, 1, tuning, workdir))
        await phase("process_4", _rota.processing(store, base, jobs, 4, tuning, workdir))
    if jobs != opts.jobs:
        out["settings"] += f"; {jobs:,} jobs"
    out["enqueue_bulk_jobs_s"] = out.get("process_1", {}).get("enqueue_bulk_jobs_s")
    samples = min(opts.samples, 50) if store in SLOW_JOBS else opts.samples
    await phase("pickup", _rota.pickup(store, base, samples, workdir, opts.gap))
    if store == "redis" and opts.memory_jobs:
        await phase("redis_memory", _rota.redis_memory(base, opts.memory_jobs))
    if errors:
        out["errors"] = errors
    return out


def run_schedules(store: str, base: str, opts: argparse.Namespace) -> dict[str, Any]:
    url = "memory://" if store == "memory" else f"sqlite:///{base}/schedules.db"
    cmd = [sys.executable, str(HERE / "_rota_schedules.py"), url, str(opts.schedules), str(opts.idle_seconds)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench_store(store: str, opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    print(f"\n== {store}: starting server", flush=True)
    try:
        with server_for(store) as base:
            print(f"== {store}: rota", flush=True)
            try:
                t0 = time.perf_counter()
                result["rota"] = asyncio.run(run_rota(store, base, opts, workdir))
                result["rota"]["bench_s"] = time.perf_counter() - t0
            except Exception as exc:  # a store still being finished: report, go on
                result["rota"] = {"error": f"{type(exc).__name__}: {exc}"}
            if opts.peers:
                result["peers"] = {}
                for name in PEERS[store]:
                    if opts.quick and name not in QUICK_PEERS:
                        continue
                    print(f"== {store}: {name}", flush=True)
                    result["peers"][name] = run_peer(name, store, base, opts, workdir)
                    print(f"   {result['peers'][name].get('bench_s', 0):.1f} s", flush=True)
            if store in ("sqlite", "memory") and opts.schedules:
                print(f"== {store}: {opts.schedules:,} schedules", flush=True)
                result["schedules"] = run_schedules(store, base, opts)
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    print_store(store, result)
    return result


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def print_store(store: str, res: dict[str, Any]) -> None:
    print(f"\n### {store}")
    if "error" in res:
        print(f"  error: {res['error']}")
        return
    header = f"{'system':<16}{'enq 1/s':>10}{'enq bulk/s':>12}{'proc 1p/s':>11}{'steady 1p':>11}" \
             f"{'proc 4p/s':>11}{'pickup p50':>12}{'p99 ms':>9}  settings"  # fmt: skip
    print(header)
    print("-" * len(header))
    rows: list[tuple[str, dict[str, Any]]] = [("rota", res.get("rota", {}))]
    rows += [(name, r) for name, r in res.get("peers", {}).items()]
    for name, r in rows:
        if "error" in r:
            print(f"{name:<16}error: {r['error']}")
            continue
        for error in r.get("errors", []):
            print(f"{name:<16}error: {error}")
        p1 = r.get("process_1", r)
        p4 = r.get("process_4", {})
        pk = r.get("pickup", r)
        print(
            f"{name:<16}{_n(r.get('enqueue_single_jobs_s')):>10}{_n(r.get('enqueue_bulk_jobs_s')):>12}"
            f"{_n(p1.get('jobs_s')):>11}{_n(p1.get('steady_jobs_s')):>11}{_n(p4.get('jobs_s')):>11}"
            f"{_n(pk.get('p50_ms'), 2):>12}{_n(pk.get('p99_ms'), 2):>9}  {r.get('settings', '')}"
        )
    mem = [("rota", res.get("rota", {}).get("redis_memory", {}).get("bytes_per_job"))]
    mem += [(n, r.get("redis_bytes_per_delayed_job")) for n, r in res.get("peers", {}).items()]
    mem = [(n, v) for n, v in mem if v is not None]
    if mem:
        print("Redis memory per pending delayed job: " + ", ".join(f"{n} {v:,.0f} B" for n, v in mem))
    sched = res.get("schedules")
    if sched:
        if "error" in sched:
            print(f"schedules: error {sched['error']}")
        else:
            print(
                f"schedules: {sched['schedules']:,} added at {sched['add_per_s']:,.0f}/s "
                f"({sched['add_s']:.1f} s); "
                f"scheduler idle CPU {sched['idle_cpu_s'] * 1e3:.1f} ms over {sched['idle_wall_s']:.1f} s "
                f"({sched['idle_cpu_pct']:.2f}%), {sched['passes']} passes, {sched['fired']} fired"
            )


def main() -> None:
    # a SIGTERM unwinds like Ctrl-C, so the servers and worker processes are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", default="sqlite,redis,postgres,mongodb,mongodb-pg,memory")
    parser.add_argument("--jobs", type=int, help="jobs per processing run (default 10,000; quick 2,000)")
    parser.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--quick", action="store_true", help="smaller runs (under 3 minutes)")
    # twice the batch: a claim runs while the previous outcomes are written (docs/postgres.md)
    parser.add_argument("--concurrency", type=int, default=1000, help="rota worker concurrency")
    parser.add_argument("--claim-batch", type=int, default=500, help="rota worker claim_batch")
    args = parser.parse_args()
    q = args.quick
    args.jobs = args.jobs or (1_000 if q else 10_000)
    args.single = 200 if q else 2_000
    args.samples = 200
    args.gap = (0.005, 0.02) if q else (0.01, 0.04)  # random pause between pickup samples, s
    args.memory_jobs = 20_000 if q else 250_000
    args.peer_memory_jobs = 0 if q else 100_000
    args.schedules = 10_000 if q else 100_000
    args.idle_seconds = 3.0 if q else 10.0
    args.phase_timeout = 20.0 if q else 240.0  # one rota measurement
    args.peer_timeout = 90.0 if q else 400.0  # one peer's whole script
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = sorted(set(stores) - set(PEERS))
    if unknown:
        parser.error(f"unknown stores {', '.join(unknown)}; known: {', '.join(PEERS)}")
    if args.peers and any(PEERS[s] for s in stores):
        ensure_peers_venv()
    started = time.strftime("%Y%m%d-%H%M%S")
    report: dict[str, Any] = {
        "started": started, "args": vars(args), "python": platform.python_version(),
        "cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg(), "stores": {},
    }  # fmt: skip
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rota-bench-") as tmp:
        for store in stores:
            report["stores"][store] = bench_store(store, args, Path(tmp))
    report["duration_s"] = time.perf_counter() - t0
    out = HERE / "results" / f"{started}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(
        f"\n{len(stores)} store(s) in {report['duration_s']:.0f} s; figures in {out.relative_to(HERE.parent)}"
    )


if __name__ == "__main__":
    main()
