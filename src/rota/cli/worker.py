"""``rota worker MODULE:APP``: run jobs until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from rota._errors import ConfigError
from rota.cli._load import add_app_options, app_from_args, close_app


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("worker", help="run a worker")
    add_app_options(parser, required=True)
    parser.add_argument("-c", "--concurrency", type=int, default=10, help="jobs run at once (default 10)")
    parser.add_argument("-q", "--queues", help="comma-separated queues (default: all of the app's tasks)")
    parser.add_argument("--claim-batch", type=int, default=100, help="most jobs per claim (default 100)")
    parser.add_argument("--lease", type=float, default=30.0, help="lease seconds (default 30)")
    parser.add_argument("--grace", type=float, default=10.0, help="shutdown grace seconds (default 10)")
    parser.add_argument("--no-scheduler", action="store_true", help="do not fire schedules in this process")
    parser.add_argument(
        "--prune-schedules", action="store_true", help="remove schedules no longer declared in code"
    )
    parser.add_argument(
        "--schedule-lease", type=float, metavar="S",
        help="seconds a scheduler pass holds its schedules (default: the election ttl)",
    )  # fmt: skip
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    queues = [q.strip() for q in args.queues.split(",") if q.strip()] if args.queues else None
    if args.queues is not None and not queues:
        raise ConfigError("--queues needs at least one queue name")
    worker = app.worker(
        concurrency=args.concurrency, queues=queues, lease=args.lease, grace=args.grace,
        scheduler=not args.no_scheduler, prune_schedules=args.prune_schedules,
        claim_batch=args.claim_batch, schedule_lease=args.schedule_lease,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    try:
        await worker.run()
    finally:
        await close_app(app)
    return 0
