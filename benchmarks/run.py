"""rota against its peers, measured in the same run on the same throwaway servers.

    .venv/bin/python benchmarks/run.py [--stores sqlite,redis,postgres,mongodb,mongodb-pg,memory]
        [--jobs N] [--repeat R] [--quick] [--no-peers] [--peers huey,dramatiq,...]
        [--rota-worker-args "..."] [--variant NAME="ARGS"]... [--peer-variant PEER=VARIANT]...
        [--plots DIR] [--out FILE]
    .venv/bin/python benchmarks/run.py --scale [--stores sqlite,redis,postgres] [--scale-max N]

On SQLite, Redis and PostgreSQL, for rota at its defaults (``rota worker`` with no tuning
flags), rota tuned (``--concurrency 1000 --claim-batch 500``), each ``--variant`` and each
peer at its documented settings: single and bulk enqueue rates, processing jobs/s of N
pre-enqueued jobs by one worker process started with the system's own CLI (median of R runs,
interleaved across systems), the worker's peak RSS, idle pickup and delayed-job lateness
p50/p99; Redis memory per pending delayed job. Every handler makes the same one Redis call
(benchmarks/_record.py) to a Redis server of the harness's own; after each store's rows, the
rate of that call alone in one asyncio process (benchmarks/_ceiling.py), which bounds any
async worker of one process in the same run. MongoDB and memory: rota only,
measured as before (benchmarks/_rota.py). ``--scale``: the store-level claim and finish cost
from 10,000 to 1,000,000 pending jobs (benchmarks/_scale.py). Results go to
benchmarks/results/<timestamp>.json; ``--plots DIR`` draws them (benchmarks/plot.py).
Method and figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _report  # noqa: E402
from _measure import die_with_parent  # noqa: E402
from _servers import redis_server, server_for  # noqa: E402

from rota.runtime.worker_settings import ASYNC_CONCURRENCY  # noqa: E402

PEERS_VENV = HERE / ".venv-peers"
PEERS_PY = PEERS_VENV / "bin" / "python"
# rota's rows run from a venv of their own too, holding what a user deploys for these stores
# (``rota[redis,postgres]``), not the dev venv: there redis-py also imports the OpenTelemetry
# SDK the tests use (2.4 MB of a worker's RSS that a production install does not carry)
ROTA_VENV = HERE / ".venv-rota"
ROTA_PY = ROTA_VENV / "bin" / "python"
ROTA_EXTRAS = "redis,postgres"
PEERS = {  # store -> peers measured on it
    "sqlite": ["huey"],
    "redis": ["huey", "dramatiq", "saq", "celery", "arq", "rq"],
    "postgres": ["pgqueuer", "procrastinate"],
    "mongodb": [],
    "mongodb-pg": [],  # the MongoDB store on FerretDB over PostgreSQL (see _servers.py)
    "memory": [],
}
DRIVEN = {"sqlite", "redis", "postgres"}  # measured through the drivers; the rest as before
QUICK_PEERS = {"huey", "dramatiq", "pgqueuer"}  # --quick: the fastest peer of each store
MEMORY_PEERS = {"arq", "saq"}  # Redis memory per delayed job, besides rota
SLOW_REPEAT_S = 90.0  # a system whose first processing run took longer runs once


@dataclass
class Entry:
    """One row of a store's table: rota in one configuration, or a peer."""

    name: str
    script: Path
    python: Path
    worker_args: str = ""
    variant: str = ""
    kind: str = "peer"  # rota-defaults, rota-tuned, rota-variant, peer
    runs: list[dict[str, Any]] = field(default_factory=list)
    slow: bool = False

    @property
    def label(self) -> str:
        """The name in file names: rota-defaults, rota[json], huey..."""
        return self.name.replace(" (", "-").replace(")", "")


def ensure_peers_venv() -> None:
    stamp = PEERS_VENV / ".installed"
    wanted = (HERE / "peers" / "requirements.txt").read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print("creating benchmarks/.venv-peers (one time)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True, timeout=600)
    requirements = str(HERE / "peers" / "requirements.txt")
    subprocess.run(
        [str(PEERS_PY), "-m", "pip", "install", "--quiet", "-r", requirements], check=True, timeout=1200
    )
    stamp.write_text(wanted)


def ensure_rota_venv() -> None:
    """rota installed editable (this checkout) with the extras of the measured stores; made
    again when pyproject.toml changes."""
    stamp = ROTA_VENV / ".installed"
    wanted = (HERE.parent / "pyproject.toml").read_text() + ROTA_EXTRAS
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print(f"creating benchmarks/.venv-rota with rota[{ROTA_EXTRAS}] (one time)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(ROTA_VENV)], check=True, timeout=600)
    subprocess.run(
        [str(ROTA_PY), "-m", "pip", "install", "--quiet", "-e", f"{HERE.parent}[{ROTA_EXTRAS}]"],
        check=True, timeout=1200,
    )  # fmt: skip
    stamp.write_text(wanted)


def entries_for(store: str, opts: argparse.Namespace) -> list[Entry]:
    rota = HERE / "_rota_bench.py"
    extra = opts.rota_worker_args
    py = opts.rota_python
    rows = [
        Entry("rota (defaults)", rota, py, extra, kind="rota-defaults"),
        Entry("rota (tuned)", rota, py, f"{opts.tuned} {extra}".strip(), kind="rota-tuned"),
    ]
    for name, args in opts.variants:
        rows.append(Entry(f"rota[{name}]", rota, py, f"{args} {extra}".strip(), kind="rota-variant"))
    if opts.peers:
        for peer in PEERS[store]:
            if opts.only_peers is not None and peer not in opts.only_peers:
                continue
            if opts.only_peers is None and opts.quick and peer not in QUICK_PEERS:
                continue
            script = HERE / "peers" / f"{peer}_bench.py"
            rows.append(Entry(peer, script, PEERS_PY, variant=opts.peer_variants.get(peer, "")))
    return rows


def run_driver(
    entry: Entry, store: str, base: str, record_url: str, phases: list[str], opts: argparse.Namespace,
    workdir: Path,
) -> dict[str, Any]:  # fmt: skip
    """One driver process; killed (with its worker) if it outlives its time."""
    url = f"sqlite:///{base}/{entry.name}.db" if store == "sqlite" and entry.kind == "peer" else base
    memory = opts.memory_jobs if entry.kind == "rota-defaults" else opts.peer_memory_jobs
    cmd = [
        str(entry.python), str(entry.script), "--url", url, "--record-url", record_url,
        "--workdir", str(workdir), "--phases", ",".join(phases), "--jobs", str(opts.jobs),
        "--single", str(opts.single), "--samples", str(opts.samples), "--delayed", str(opts.delayed),
        "--gap", ",".join(map(str, opts.gap)), "--memory", str(memory),
        "--timeout", str(opts.process_timeout), "--label", entry.label,
        # NAME=VALUE: a value that starts with "--" must not be read as an option of its own
        f"--variant={entry.variant}", f"--worker-args={entry.worker_args}",
    ]  # fmt: skip
    env = {**os.environ, "BENCH_URL": url}
    if entry.kind == "peer":
        env.pop("PYTHONPATH", None)
    t0 = time.perf_counter()
    result = run_child(cmd, env, opts.driver_timeout)
    if "error" not in result:
        result["driver_s"] = time.perf_counter() - t0
    return result


def run_child(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """A driver or measuring script; its last ``RESULT {json}`` line, else ``{"error": ...}``
    with the tail of its output. Stopped (with its worker) if it outlives ``timeout``."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=HERE,
        # no driver outlives run.py (no threads here to hold a lock across the fork)
        start_new_session=True, preexec_fn=die_with_parent,  # noqa: PLW1509
    )  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stdout, stderr = _stop_driver(proc)
        stderr += f"\ntimed out after {timeout:.0f} s"
    except BaseException:  # Ctrl-C, SIGTERM: stop the driver (and so its worker) first
        _stop_driver(proc)
        raise
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (stderr or stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit {proc.returncode}"}
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    return result


def _stop_driver(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM (the driver stops its worker), SIGKILL after 30 s; returns its output."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate(timeout=30)


def bench_driven(store: str, opts: argparse.Namespace, workdir: Path, record_url: str) -> dict[str, Any]:
    """rota's configurations and the peers on one server, runs interleaved across systems."""
    entries = entries_for(store, opts)
    with server_for(store) as base:
        for r in range(opts.repeat):
            for entry in entries:
                if r > 0 and entry.slow:
                    continue
                phases = ["single", "process"]
                if r == 0:
                    phases.append("latency")
                    if store == "redis" and (entry.kind == "rota-defaults" or entry.name in MEMORY_PEERS):
                        phases.append("memory")
                print(f"== {store}: {entry.name} (run {r + 1}/{opts.repeat})", flush=True)
                res = run_driver(entry, store, base, record_url, phases, opts, workdir)
                entry.runs.append(res)
                took = (res.get("jobs_s") and opts.jobs / res["jobs_s"]) or 0
                entry.slow = entry.slow or took > SLOW_REPEAT_S or "error" in res
                _report.progress_line(res)
    result: dict[str, Any] = {"systems": {e.name: _report.aggregate(e.kind, e.runs) for e in entries}}
    print(f"== {store}: the handler's call alone (_ceiling.py)", flush=True)
    result["handler_ceiling"] = run_ceiling(opts, record_url)
    return result


def run_ceiling(opts: argparse.Namespace, record_url: str) -> dict[str, Any]:
    """What one asyncio process can do of the handlers' one Redis call alone (_ceiling.py),
    with rota's interpreter, after the store's rows: the bound on any async worker's rate in
    this run."""
    calls = max(2_000, opts.jobs)
    # rota's defaults (the script's own default) and the tuned rows' concurrency
    cmd = [str(opts.rota_python), str(HERE / "_ceiling.py"), "--record-url", record_url,
           "--calls", str(calls), "--in-flight", str(ASYNC_CONCURRENCY),
           "--in-flight", str(opts.concurrency)]  # fmt: skip
    return run_child(cmd, dict(os.environ), opts.driver_timeout)


def bench_as_before(store: str, opts: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """MongoDB (FerretDB) and memory: rota only, its worker in benchmarks/_rota_worker.py."""
    import _rota_legacy

    with server_for(store) as base:
        print(f"== {store}: rota", flush=True)
        result = _rota_legacy.bench(store, base, opts, workdir)
        if store == "memory" and opts.schedules:
            print(f"== {store}: {opts.schedules:,} schedules", flush=True)
            result["schedules"] = _rota_legacy.run_schedules(store, base, opts)
    return result


def bench_store(store: str, opts: argparse.Namespace, workdir: Path, record_url: str) -> dict[str, Any]:
    print(f"\n== {store}: starting server", flush=True)
    try:
        if store in DRIVEN:
            result = bench_driven(store, opts, workdir, record_url)
            if store == "sqlite" and opts.schedules:
                import _rota_legacy

                print(f"== {store}: {opts.schedules:,} schedules", flush=True)
                with server_for(store) as base:
                    result["schedules"] = _rota_legacy.run_schedules(store, base, opts)
        else:
            result = bench_as_before(store, opts, workdir)
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"}
    _report.print_store(store, result, opts)
    return result


def parse_variant(text: str) -> tuple[str, str]:
    name, sep, args = text.partition("=")
    if not sep or not name.strip() or not name.strip().replace("-", "").replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(
            f'expected NAME="ARGS" (e.g. json="--log-format json"), got {text!r}'
        )
    return name.strip(), args.strip()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", help="default: all six; --scale: sqlite,redis,postgres")
    parser.add_argument("--jobs", type=int, help="jobs per processing run (default 20,000; quick 2,000)")
    parser.add_argument("--repeat", type=int, help="processing runs per system, median (default 3; quick 1)")
    parser.add_argument("--quick", action="store_true", help="small runs to check the harness")
    parser.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--only-peers", help="comma-separated peers to measure (default: all; quick: fastest)"
    )
    parser.add_argument("--concurrency", type=int, default=1000, help="rota tuned: worker concurrency")
    parser.add_argument("--claim-batch", type=int, default=500, help="rota tuned: worker claim batch")
    parser.add_argument(
        "--rota-worker-args", default="", help="extra `rota worker` arguments for every rota row"
    )
    parser.add_argument("--variant", dest="variants", action="append", type=parse_variant, default=[],
                        metavar='NAME="ARGS"', help="rota at defaults plus ARGS (repeatable)")  # fmt: skip
    parser.add_argument("--peer-variant", dest="peer_variant_list", action="append", default=[],
                        metavar="PEER=VARIANT", help="a peer's other setting (see its driver)")  # fmt: skip
    parser.add_argument("--samples", type=int, help="pickup samples (default 200; quick 50)")
    parser.add_argument("--delayed", type=int, help="delayed-job samples (default 200; quick 50)")
    parser.add_argument("--plots", metavar="DIR", help="write the PNG plots here (needs rota[bench])")
    parser.add_argument("--out", help="results JSON (default benchmarks/results/<timestamp>.json)")
    parser.add_argument("--scale", action="store_true", help="store-level claim/finish cost vs pending jobs")
    parser.add_argument("--scale-max", type=int, default=1_000_000, help="--scale: the largest size")
    parser.add_argument(
        "--rota-python", type=Path, default=None,
        help=f"the interpreter of rota's rows (default: benchmarks/.venv-rota, rota[{ROTA_EXTRAS}] only)",
    )  # fmt: skip
    args = parser.parse_args()
    q = args.quick
    args.jobs = args.jobs or (2_000 if q else 20_000)
    args.repeat = args.repeat or (1 if q else 3)
    args.single = 300 if q else 2_000
    args.samples = args.samples if args.samples is not None else (50 if q else 200)
    args.delayed = args.delayed if args.delayed is not None else (50 if q else 200)
    args.gap = (0.005, 0.02) if q else (0.01, 0.04)  # random pause between latency samples, s
    args.memory_jobs = 20_000 if q else 250_000
    args.peer_memory_jobs = 0 if q else 100_000
    args.schedules = 10_000 if q else 100_000
    args.idle_seconds = 3.0 if q else 10.0
    args.phase_timeout = 20.0 if q else 240.0  # one measurement of the MongoDB/memory rows
    args.process_timeout = 180.0 if q else 900.0  # one processing run of one system
    args.driver_timeout = args.process_timeout + (180.0 if q else 600.0)
    args.tuned = f"--concurrency {args.concurrency} --claim-batch {args.claim_batch}"
    args.only_peers = {p.strip() for p in args.only_peers.split(",")} if args.only_peers else None
    args.peer_variants = {}
    for text in args.peer_variant_list:
        peer, sep, variant = text.partition("=")
        if not sep:
            parser.error(f"--peer-variant expects PEER=VARIANT, got {text!r}")
        args.peer_variants[peer.strip()] = variant.strip()
    for _, extra in [*args.variants, ("", args.rota_worker_args)]:
        try:
            shlex.split(extra)
        except ValueError as exc:
            parser.error(f"bad worker arguments {extra!r}: {exc}")
    default = "sqlite,redis,postgres" if args.scale else ",".join(PEERS)
    args.store_list = [s.strip() for s in (args.stores or default).split(",") if s.strip()]
    known = {"sqlite", "redis", "postgres"} if args.scale else set(PEERS)
    unknown = sorted(set(args.store_list) - known)
    if unknown:
        parser.error(f"unknown stores {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return args


def main() -> None:
    # a SIGTERM unwinds like Ctrl-C, so the servers and worker processes are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    opts = parse_args()
    started = time.strftime("%Y%m%d-%H%M%S")
    report: dict[str, Any] = {
        "started": started, "mode": "scale" if opts.scale else "suite", "args": vars(opts),
        "python": platform.python_version(), "cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg(),
        "stores": {},
    }  # fmt: skip
    t0 = time.perf_counter()
    if opts.scale:
        import _scale

        for store in opts.store_list:
            report["stores"][store] = _scale.bench(store, opts.scale_max)
            _scale.print_store(store, report["stores"][store])
    else:
        if opts.peers and any(PEERS[s] for s in opts.store_list if s in DRIVEN):
            ensure_peers_venv()
        if opts.rota_python is None:
            ensure_rota_venv()
            opts.rota_python = ROTA_PY
        with tempfile.TemporaryDirectory(prefix="rota-bench-") as tmp, redis_server(persist=False) as rec:
            for store in opts.store_list:
                report["stores"][store] = bench_store(store, opts, Path(tmp), rec)
    report["duration_s"] = time.perf_counter() - t0
    out = Path(opts.out) if opts.out else HERE / "results" / f"{started}{'-scale' if opts.scale else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    where = out.relative_to(HERE.parent) if out.is_relative_to(HERE.parent) else out
    print(f"\n{len(opts.store_list)} store(s) in {report['duration_s']:.0f} s; results in {where}")
    if opts.plots:
        import plot

        for path in plot.draw(report, Path(opts.plots)):
            print(f"plot: {path}")


if __name__ == "__main__":
    main()
