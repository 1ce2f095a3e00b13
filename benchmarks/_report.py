"""run.py's results: the median over runs, one table per store, the ratios issue 16 asks for."""

from __future__ import annotations

import argparse
import statistics
from typing import Any

MEDIAN = ("jobs_s", "steady_jobs_s", "startup_s", "rss_mb", "enqueue_single_jobs_s", "enqueue_bulk_jobs_s",
          "enqueue_n_jobs_s", "durable_lag_s")  # fmt: skip
ONCE = ("pickup_p50_ms", "pickup_p99_ms", "delayed_p50_ms", "delayed_p99_ms", "delayed_enqueue_overran_s",
        "redis_bytes_per_delayed_job", "memory_jobs", "enqueue_bulk_delayed_jobs_s", "processes")  # fmt: skip
TARGETS = {"rota-defaults": 2.0, "rota-tuned": 3.0}  # processing, times the fastest peer (issue 16)
SINGLE_TARGET = 1.2


def aggregate(kind: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One system's row: the median of each rate over its runs, latencies and memory from the
    run that measured them, every error seen."""
    row: dict[str, Any] = {"kind": kind, "runs": runs}
    for key in MEDIAN:
        values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
        if values:
            row[key] = statistics.median(values)
            row[key + "_runs"] = values
    for key in ONCE:
        for r in runs:
            if key in r:
                row[key] = r[key]
                break
    for r in runs:
        for name in ("settings", "cmd"):
            if name in r and name not in row:
                row[name] = r[name]
    errors = [r["error"] for r in runs if "error" in r] + [e for r in runs for e in r.get("errors", [])]
    if errors:
        row["errors"] = errors
    return row


def progress_line(res: dict[str, Any]) -> None:
    if "error" in res:
        print(f"   error: {res['error']}", flush=True)
        return
    bits = [f"{res['jobs_s']:,.0f} jobs/s" if "jobs_s" in res else "", f"{res.get('driver_s', 0):.0f} s"]
    bits += [f"error: {e}" for e in res.get("errors", [])]
    print("   " + ", ".join(b for b in bits if b), flush=True)


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(a: Any, b: Any) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def print_store(store: str, res: dict[str, Any], opts: argparse.Namespace) -> None:
    print(f"\n### {store}")
    if "error" in res:
        print(f"  error: {res['error']}")
        return
    systems: dict[str, dict[str, Any]] = res.get("systems") or {"rota": _legacy_row(res.get("rota", {}))}
    header = (f"{'system':<18}{'enq 1/s':>9}{'bulk/s':>9}{'proc/s':>9}{'steady':>9}{'RSS MB':>8}"
              f"{'pickup p50':>11}{'p99':>7}{'delayed p50':>12}{'p99':>9}  settings")  # fmt: skip
    print(header)
    print("-" * len(header))
    for name, r in systems.items():
        print(
            f"{name:<18}{_n(r.get('enqueue_single_jobs_s')):>9}{_n(r.get('enqueue_bulk_jobs_s')):>9}"
            f"{_n(r.get('jobs_s')):>9}{_n(r.get('steady_jobs_s')):>9}{_n(r.get('rss_mb'), 1):>8}"
            f"{_n(r.get('pickup_p50_ms'), 2):>11}{_n(r.get('pickup_p99_ms'), 1):>7}"
            f"{_n(r.get('delayed_p50_ms'), 1):>12}{_n(r.get('delayed_p99_ms'), 1):>9}  "
            f"{r.get('settings', '')}"
        )
    for name, r in systems.items():
        for error in r.get("errors", []):
            print(f"  {name}: error: {error}")
    if "systems" in res:
        for line in ratio_lines(systems):
            print(line)
        line = ceiling_line(systems, res.get("handler_ceiling"))
        if line:
            print(line)
    mem = [(n, r.get("redis_bytes_per_delayed_job")) for n, r in systems.items()]
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
    if "systems" in res:
        runs = max(len(r.get("jobs_s_runs", [])) for r in systems.values()) if systems else 0
        print(
            f"({opts.jobs:,} jobs per processing run, median of up to {runs} run(s); latencies from one run)"
        )


def ratio_lines(systems: dict[str, dict[str, Any]]) -> list[str]:
    """rota (defaults, tuned) against the fastest peer; each variant against rota's defaults."""
    lines: list[str] = []
    peers = {n: r for n, r in systems.items() if r.get("kind") == "peer"}
    base = next((r for r in systems.values() if r.get("kind") == "rota-defaults"), {})
    fastest = max(peers.items(), key=lambda kv: kv[1].get("jobs_s") or 0, default=None)
    if fastest and fastest[1].get("jobs_s"):
        name, peer = fastest
        parts = []
        for n, r in systems.items():
            if r.get("kind") in TARGETS:
                target = TARGETS[r["kind"]]
                parts.append(f"{n} {_ratio(r.get('jobs_s'), peer['jobs_s'])} (target {target:g}x)")
        lines.append(
            f"processing vs the fastest peer ({name}, {peer['jobs_s']:,.0f} jobs/s): " + ", ".join(parts)
        )
    single = max(peers.items(), key=lambda kv: kv[1].get("enqueue_single_jobs_s") or 0, default=None)
    if single and single[1].get("enqueue_single_jobs_s"):
        name, peer = single
        lines.append(
            f"single enqueue vs the fastest peer's ({name}, {peer['enqueue_single_jobs_s']:,.0f}/s): rota "
            f"{_ratio(base.get('enqueue_single_jobs_s'), peer['enqueue_single_jobs_s'])} "
            f"(target {SINGLE_TARGET:g}x)"
        )
    for n, r in systems.items():
        if r.get("kind") != "rota-variant":
            continue
        lines.append(
            f"variant {n} vs rota (defaults): processing {_ratio(r.get('jobs_s'), base.get('jobs_s'))}, "
            f"steady {_ratio(r.get('steady_jobs_s'), base.get('steady_jobs_s'))}, "
            f"pickup p99 {_n(base.get('pickup_p99_ms'), 1)} -> {_n(r.get('pickup_p99_ms'), 1)} ms, "
            f"RSS {_n(base.get('rss_mb'), 1)} -> {_n(r.get('rss_mb'), 1)} MB"
        )
    return lines


def ceiling_line(systems: dict[str, dict[str, Any]], ceiling: dict[str, Any] | None) -> str:
    """The handler's call alone (_ceiling.py) beside the rates the targets ask of rota."""
    if not ceiling:
        return ""
    if "error" in ceiling:
        return f"the handler's call alone: error {ceiling['error']}"
    rates = {k: v for k, v in ceiling.items() if isinstance(v, dict) and "calls_s" in v}
    if not rates:
        return ""
    best = max(v["calls_s"] for v in rates.values())
    parts = [f"{v['calls_s']:,.0f}/s at {k} in flight ({v['cpu_us_per_call']:.0f} us CPU a call)"
             for k, v in rates.items()]  # fmt: skip
    line = "the handler's call alone in one asyncio process: " + ", ".join(parts)
    fastest = max((r.get("jobs_s") or 0 for r in systems.values() if r.get("kind") == "peer"), default=0)
    if fastest:
        line += "; " + ", ".join(f"{t:g}x the fastest peer is {t * fastest / best:.0%} of it" for t in (2, 3))
    for n, r in systems.items():
        if r.get("kind") in TARGETS and r.get("jobs_s"):
            line += f"; {n} runs at {r['jobs_s'] / best:.0%} of it"
    return line


def _legacy_row(r: dict[str, Any]) -> dict[str, Any]:
    """A MongoDB/memory result (benchmarks/_rota_legacy.py) as a table row."""
    p1 = r.get("process_1", {})
    pk = r.get("pickup", {})
    row = {
        "enqueue_single_jobs_s": r.get("enqueue_single_jobs_s"),
        "enqueue_bulk_jobs_s": r.get("enqueue_bulk_jobs_s"), "jobs_s": p1.get("jobs_s"),
        "steady_jobs_s": p1.get("steady_jobs_s"), "pickup_p50_ms": pk.get("p50_ms"),
        "pickup_p99_ms": pk.get("p99_ms"), "settings": r.get("settings", ""),
    }  # fmt: skip
    errors = ([r["error"]] if "error" in r else []) + r.get("errors", [])
    if errors:
        row["errors"] = errors
    return row
