"""``rota worker MODULE:APP``: run jobs until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import Any, NoReturn

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
    use_eager_tasks(loop)

    def on_signal() -> None:
        # the first SIGTERM/SIGINT stops gracefully; another one forces (see Worker.stop)
        worker.stop(force=worker.stopping)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await worker.run()
    finally:
        await close_app(app, timeout=CLOSE_BOUND)
        if any(not task.done() for task in worker.stranded):
            _exit_now(sys.exc_info()[1])
    return 0


def use_eager_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """On Python 3.12+, start each new task's first step at once, inside ``create_task``
    (``asyncio.eager_task_factory``): a handler that ends without suspending is never
    scheduled at all. Only on loops rota owns (``rota worker``, ``manage.py rota_worker``):
    a worker started on the user's loop keeps its factory. benchmarks/eager_tasks.py measures
    it (docs/benchmarks.md)."""
    if sys.version_info >= (3, 12):
        loop.set_task_factory(asyncio.eager_task_factory)


#: Real seconds the store gets to close at exit (its jobs are released or finished by then).
CLOSE_BOUND = 0.5


def _exit_now(error: BaseException | None) -> NoReturn:
    """End the process without the event loop's final cleanup, which would wait forever for
    the worker's stranded tasks (handlers that ignore cancellation, store calls that never
    answer). Their jobs are already released, or given up to their leases' expiry."""
    if error is not None:
        print(f"rota: error: {error}", file=sys.stderr)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if error is None else 1)
