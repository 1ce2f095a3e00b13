"""``run.py --scale``: does a claim or a finish cost more as the store holds more jobs?

Store level (``app.store``), one process. Two series per store, each on a fresh server: jobs
pending only, and the same with 100,000 delayed jobs (due in an hour) and 100,000 finished
(succeeded) rows present. At each size (10,000 -> 100,000 -> 1,000,000 pending, up to
``--scale-max``) the pending jobs are topped up to the size, then ``ROUNDS`` rounds time one
``store.claim(limit=100)`` and one ``store.finish`` of those 100 successes; after each round
100 new jobs are added (untimed), so the pending count stays at the size. The figure is the
median per call; the flatness ratio is the cost at a size over the cost at the smallest.
Jobs are loaded with ``store.add`` in batches of ``LOAD_BATCH`` (one round trip each: a
multi-row insert, one Lua call), which loads a million in a minute or two.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _rota_cli_app import NOOP, build
from _servers import fresh_url, server_for

from rota import App
from rota._models import Finish, Outcome
from rota._task import job_from

SIZES = (10_000, 100_000, 1_000_000)
EXTRA = 100_000  # delayed and finished rows in the second series (capped at --scale-max)
BATCH = 100  # jobs per timed claim and finish
ROUNDS = 30
WARMUP = 3  # rounds not counted: statement preparation, caches
LOAD_BATCH = 5_000
LEASE = timedelta(minutes=10)


def sizes_up_to(limit: int) -> list[int]:
    sizes = [s for s in SIZES if s <= limit]
    if not sizes or sizes[-1] < limit < SIZES[-1] * 10:
        sizes.append(limit)
    return sorted(set(sizes))


async def _load(app: App, n: int, *, delay: float | None = None) -> float:
    """Add n jobs in batches of LOAD_BATCH; returns jobs/s."""
    spec = app.get_task(NOOP).prepare(delay=delay)
    t0 = time.perf_counter()
    for i in range(0, n, LOAD_BATCH):
        now = datetime.now(UTC)
        await app.store.add(
            [job_from(spec, now, app.config.max_payload_bytes) for _ in range(min(LOAD_BATCH, n - i))],
            now=now,
        )
    return n / (time.perf_counter() - t0) if n else 0.0


async def _finish_all(app: App, n: int, queue: str) -> None:
    """Claim and finish n jobs (the finished rows of the second series)."""
    done = 0
    while done < n:
        now = datetime.now(UTC)
        jobs = await app.store.claim(queues=[queue], worker="scale", limit=min(1_000, n - done),
                                     lease_for=LEASE, now=now)  # fmt: skip
        if not jobs:
            raise RuntimeError(f"only {done}/{n} jobs could be claimed")
        await app.store.finish([Finish(j.id, j.token, Outcome.SUCCEEDED) for j in jobs], worker="scale",
                               now=datetime.now(UTC))  # fmt: skip
        done += len(jobs)


async def _series(store: str, base: str, sizes: list[int], extra: int) -> dict[str, Any]:
    app = build(fresh_url(store, base))
    await app.open()
    queue = app.get_task(NOOP).queue
    out: dict[str, Any] = {"extra_delayed": extra, "extra_finished": extra, "points": []}
    try:
        if extra:
            t0 = time.perf_counter()
            await _load(app, extra)
            await _finish_all(app, extra, queue)
            await _load(app, extra, delay=3600)
            out["extra_load_s"] = time.perf_counter() - t0
        pending = 0
        for size in sizes:
            t0 = time.perf_counter()
            rate = await _load(app, size - pending)
            load_s = time.perf_counter() - t0
            pending = size
            claims, finishes = [], []
            for i in range(WARMUP + ROUNDS):
                t1 = time.perf_counter()
                jobs = await app.store.claim(queues=[queue], worker="scale", limit=BATCH, lease_for=LEASE,
                                             now=datetime.now(UTC))  # fmt: skip
                t2 = time.perf_counter()
                ok = await app.store.finish([Finish(j.id, j.token, Outcome.SUCCEEDED) for j in jobs],
                                            worker="scale", now=datetime.now(UTC))  # fmt: skip
                t3 = time.perf_counter()
                if len(jobs) != BATCH or not all(ok):
                    raise RuntimeError(f"claimed {len(jobs)}/{BATCH}, finished {sum(ok)} at {size:,} pending")
                if i >= WARMUP:
                    claims.append(t2 - t1)
                    finishes.append(t3 - t2)
                await _load(app, BATCH)  # keep the pending count at the size
            out["points"].append({
                "pending": size, "load_jobs_s": rate, "load_s": load_s,
                "claim_ms": statistics.median(claims) * 1e3, "finish_ms": statistics.median(finishes) * 1e3,
                "claim_p90_ms": _p90(claims) * 1e3, "finish_p90_ms": _p90(finishes) * 1e3,
            })  # fmt: skip
            p = out["points"][-1]
            print(f"   {size:>9,} pending: claim {p['claim_ms']:.2f} ms, finish {p['finish_ms']:.2f} ms "
                  f"per {BATCH} (loaded at {rate:,.0f} jobs/s)", flush=True)  # fmt: skip
    finally:
        await app.close()
    return out


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def bench(store: str, scale_max: int) -> dict[str, Any]:
    """Both series on ``store``, each on a fresh server (so the first's rows do not weigh on the
    second). Errors are reported in the result, never raised."""
    sizes = sizes_up_to(scale_max)
    extra = min(EXTRA, scale_max)
    result: dict[str, Any] = {"sizes": sizes, "batch": BATCH, "rounds": ROUNDS}
    for label, rows in (("pending", 0), ("with_delayed_finished", extra)):
        print(f"== {store}: scale, {label.replace('_', ' ')}", flush=True)
        t0 = time.perf_counter()
        try:
            with server_for(store) as base:
                result[label] = asyncio.run(_series(store, base, sizes, rows))
        except Exception as exc:
            result[label] = {"error": f"{type(exc).__name__}: {exc}"}
        result[label]["bench_s"] = time.perf_counter() - t0
    return result


def print_store(store: str, res: dict[str, Any]) -> None:
    """The flatness table: cost per call of 100 at each size and its ratio to the smallest."""
    print(f"\n### {store}: claim and finish of {res['batch']} jobs, median of {res['rounds']} (ms)")
    header = f"{'series':<28}{'pending':>11}{'claim ms':>10}{'x first':>9}{'finish ms':>11}{'x first':>9}"
    print(header)
    print("-" * len(header))
    for label in ("pending", "with_delayed_finished"):
        series = res.get(label, {})
        name = (
            "pending only" if label == "pending" else f"+{series.get('extra_delayed', 0):,} delayed+finished"
        )
        if "error" in series:
            print(f"{name:<28}error: {series['error']}")
        points = series.get("points", [])
        if not points:
            continue
        c0, f0 = points[0]["claim_ms"], points[0]["finish_ms"]
        for p in points:
            print(f"{name:<28}{p['pending']:>11,}{p['claim_ms']:>10.2f}{p['claim_ms'] / c0:>8.2f}x"
                  f"{p['finish_ms']:>11.2f}{p['finish_ms'] / f0:>8.2f}x")  # fmt: skip
            name = ""
    print("(target: within 1.20x of the first size; issue 16)")
