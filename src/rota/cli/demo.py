"""``rota demo``: a worker on the embedded SQLite store works through a few thousand jobs,
shows a retry and a dead job, and prints a summary."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rota._app import App
from rota._errors import ConfigError
from rota._events import Event, EventKind
from rota._retry import RetryPolicy
from rota.cli._format import attempts_table, console

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class Thumbnail:
    image: str
    width: int


@dataclass
class Charge:
    order: str
    cents: int


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("demo", help="watch rota work through jobs")
    parser.add_argument("--jobs", type=int, default=3000, help="how many jobs (default 3000)")
    parser.add_argument("--concurrency", type=int, default=64, help="jobs at once (default 64)")
    parser.add_argument("--store", metavar="URL", help="store URL (default: a fresh SQLite file)")
    parser.set_defaults(run=run)


def build_app(url: str) -> App:
    app = App(url)
    seen: set[str] = set()

    @app.task(name="demo.thumbnail")
    async def thumbnail(spec: Thumbnail) -> int:
        return spec.width * 3 // 4

    @app.task(name="demo.sync_upstream", retry=RetryPolicy(attempts=3, backoff="exponential", base=0.2))
    def sync_upstream(account: str) -> None:  # a plain def: runs in the worker's thread pool
        if account not in seen:
            seen.add(account)
            raise ConnectionError(f"upstream for {account} timed out")

    @app.task(name="demo.charge", retry=RetryPolicy(attempts=3, backoff="fixed", base=0.1))
    async def charge(payment: Charge) -> None:
        raise ValueError(f"card declined for order {payment.order}")

    return app


async def run(args: argparse.Namespace) -> int:
    if not (1 <= args.jobs <= 1_000_000 and 1 <= args.concurrency <= 10_000):
        raise ConfigError("--jobs must be from 1 to 1000000 and --concurrency from 1 to 10000")
    import tempfile  # here: it brings shutil, bz2 and lzma, which `rota worker` does without

    out = console()
    with tempfile.TemporaryDirectory(prefix="rota-demo-") as tmp:
        url = args.store or f"sqlite:///{Path(tmp) / 'demo.db'}"
        app = build_app(url)
        try:
            return await _demo(app, args, out)
        finally:
            await app.close()


async def _demo(app: App, args: argparse.Namespace, console: Console) -> int:
    # rich here, not at the top: every command's module is imported to build the parser
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console.print(f"[bold]rota demo[/bold] on {app.store.describe()}")
    thumbnail, sync_upstream, charge = (
        app.get_task(f"demo.{n}") for n in ("thumbnail", "sync_upstream", "charge")
    )
    started = time.perf_counter()
    specs = [thumbnail.prepare(Thumbnail(f"img-{i}.png", 640 + i % 640)) for i in range(args.jobs)]
    specs.append(sync_upstream.prepare("acme"))
    specs.append(charge.prepare(Charge("A-1001", 4999)))
    jobs = await app.enqueue_many(specs)
    enqueue_s = time.perf_counter() - started
    console.print(f"enqueued {len(jobs):,} jobs in one round trip ({len(jobs) / enqueue_s:,.0f} jobs/s)")
    flaky_id, dead_id = jobs[-2].id, jobs[-1].id

    total = len(jobs)
    done = asyncio.Event()
    outcomes = {"succeeded": 0, "failed": 0, "retrying": 0}
    columns = (TextColumn("working"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("jobs", total=total)

        def on_event(event: Event) -> None:
            outcomes[event.kind.value] += 1
            if event.kind is not EventKind.RETRYING:
                progress.advance(bar)
                if outcomes["succeeded"] + outcomes["failed"] >= total:
                    done.set()

        app.on({EventKind.SUCCEEDED, EventKind.FAILED, EventKind.RETRYING}, on_event)
        worker = app.worker(concurrency=args.concurrency, lease=10, grace=5)
        t0 = time.perf_counter()
        async with worker:
            await done.wait()
        elapsed = time.perf_counter() - t0

    summary = Table(title="summary", show_header=False)
    summary.add_row("jobs", f"{total:,}")
    summary.add_row("succeeded", f"{outcomes['succeeded']:,}")
    summary.add_row("retried attempts", f"{outcomes['retrying']:,}")
    summary.add_row("dead (failed after the last attempt)", f"{outcomes['failed']:,}")
    summary.add_row(
        "processing", f"{elapsed:.2f}s, {total / elapsed:,.0f} jobs/s at concurrency {args.concurrency}"
    )
    console.print(summary)
    for title, job_id in (("a retry that then succeeded", flaky_id), ("a dead job", dead_id)):
        job = await app.get_job(job_id)
        console.print(f"\n[bold]{title}[/bold]: {job.task} {job.id} -> {job.status}")
        console.print(attempts_table(await app.attempts(job_id)))
    return 0
