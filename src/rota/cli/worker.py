"""``rota worker MODULE:APP``: run jobs until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import math
import os
import signal
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from rota._errors import ConfigError
from rota.cli._load import add_app_options, app_from_args, close_app
from rota.runtime.probes import MAX_LOOP_LAG

if TYPE_CHECKING:
    from rota import App
    from rota.runtime.worker import Worker

log = logging.getLogger("rota.worker")

# defaults shown in --help, of modules imported only with the flags (a test keeps them equal)
DEFAULT_HOST = "127.0.0.1"  # rota.http.DEFAULT_HOST
SAMPLE_INTERVAL = 15.0  # rota.metrics.SAMPLE_INTERVAL


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("worker", help="run a worker")
    add_app_options(parser, required=True)
    parser.add_argument(
        "-c", "--concurrency", type=int,
        help="jobs run at once (default: 250 when every task served is async, else 10)",
    )  # fmt: skip
    parser.add_argument("-q", "--queues", help="comma-separated queues (default: all of the app's tasks)")
    parser.add_argument("--claim-batch", type=int, help="most jobs per claim (default: the free slots)")
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
    endpoints = parser.add_argument_group("metrics and health endpoints")
    endpoints.add_argument(
        "--metrics-port", type=_port, metavar="N",
        help="serve /metrics (Prometheus) at this port (0: any free one); needs rota[prometheus,web]",
    )  # fmt: skip
    endpoints.add_argument(
        "--health-port", type=_port, metavar="N",
        help="serve /healthz and /readyz at this port (may be the metrics port); needs rota[web]",
    )  # fmt: skip
    endpoints.add_argument(
        "--http-host", default=DEFAULT_HOST, metavar="HOST",
        help=f"address the endpoints listen on (default {DEFAULT_HOST})",
    )  # fmt: skip
    endpoints.add_argument(
        "--max-loop-lag", type=_seconds, default=MAX_LOOP_LAG, metavar="S",
        help=f"/healthz fails while the event loop runs more than S seconds late (default {MAX_LOOP_LAG:g})",
    )  # fmt: skip
    endpoints.add_argument(
        "--metrics-interval", type=_seconds, default=SAMPLE_INTERVAL, metavar="S",
        help=f"seconds between the leader's samples of queue depths (default {SAMPLE_INTERVAL:g})",
    )  # fmt: skip
    parser.set_defaults(run=run)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {port}")
    return port


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


async def run(args: argparse.Namespace) -> int:
    _require_extras(args)
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
        async with contextlib.AsyncExitStack() as endpoints:
            await _serve_endpoints(endpoints, app, worker, args)
            await worker.run()
    finally:
        await close_app(app, timeout=CLOSE_BOUND)
        if any(not task.done() for task in worker.stranded):
            _exit_now(sys.exc_info()[1])
    return 0


def _require_extras(args: argparse.Namespace) -> None:
    """Refuse an endpoint flag whose optional dependencies are not installed (one line)."""
    web = ("starlette", "uvicorn")
    wanted: list[tuple[str, str, tuple[str, ...]]] = []
    if args.metrics_port is not None:
        wanted.append(("--metrics-port", "rota[prometheus,web]", ("prometheus_client", *web)))
    if args.health_port is not None:
        wanted.append(("--health-port", "rota[web]", web))
    for flag, extra, modules in wanted:
        for module in modules:
            try:
                importlib.import_module(module)
            except ImportError:
                message = f"{flag} needs {module}, which is not installed: pip install '{extra}'"
                raise ConfigError(message) from None


async def _serve_endpoints(
    stack: contextlib.AsyncExitStack, app: App, worker: Worker, args: argparse.Namespace
) -> None:
    """Start what ``--metrics-port`` and ``--health-port`` ask for (nothing is imported
    without them); ``stack`` stops it all once the worker has stopped."""
    metrics_port, health_port = args.metrics_port, args.health_port
    if metrics_port is None and health_port is None:
        return
    from rota.http import EndpointServer, endpoints_app
    from rota.runtime.looplag import LoopLag
    from rota.runtime.probes import Probes

    # uvicorn's own start and stop lines repeat ours (and its name says "error" for them)
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, logging.getLogger().level))
    lag = LoopLag()
    lag.start()
    stack.push_async_callback(lag.stop)
    probes = None
    if health_port is not None:
        probes = Probes(app.context, worker, loop_lag=lag, max_loop_lag=args.max_loop_lag)
    registry = None
    if metrics_port is not None:
        from prometheus_client import REGISTRY

        from rota.metrics import Metrics

        registry = REGISTRY
        metrics = Metrics(registry)
        stack.callback(registry.unregister, metrics)
        stack.callback(metrics.observe(app))
        metrics.measure_loop(lag)
        sampler = metrics.watch(worker, interval=args.metrics_interval)
        await sampler.start()
        stack.push_async_callback(sampler.shutdown)
    if metrics_port == health_port:
        servers = [(endpoints_app(probes=probes, registry=registry), metrics_port)]
    else:
        servers = [
            (endpoints_app(probes=probes), health_port),
            (endpoints_app(registry=registry), metrics_port),
        ]
    for asgi, port in servers:
        if port is None:
            continue
        server = EndpointServer(asgi, host=args.http_host, port=port)
        await server.start()
        stack.push_async_callback(server.stop)
        paths = [str(getattr(route, "path", "")) for route in asgi.routes]
        log.info(
            "serving %s on %s", ", ".join(paths), server.url,
            extra={"url": server.url, "port": server.port, "paths": paths},
        )  # fmt: skip


def use_eager_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """On Python 3.12+, start each new task's first step at once, inside ``create_task``
    (``asyncio.eager_task_factory``): a handler that ends without suspending is never
    scheduled at all. Only on loops rota owns (``rota worker``, ``manage.py rota_worker``):
    a worker started on the user's loop keeps its factory. benchmarks/eager_tasks.py measures
    it (docs/benchmarks.md)."""
    if sys.version_info >= (3, 12):
        loop.set_task_factory(_eager_task_factory)


def _eager_task_factory(
    loop: asyncio.AbstractEventLoop, coro: Any, *, eager_start: bool | None = None, **kwargs: Any
) -> asyncio.Task[Any]:
    """``asyncio.eager_task_factory``, also on uvloop under Python 3.13, whose ``create_task``
    passes the factory an ``eager_start`` argument that 3.13's factory does not take."""
    if eager_start is False:
        return asyncio.Task(coro, loop=loop, **kwargs)
    task: asyncio.Task[Any] = asyncio.eager_task_factory(loop, coro, **kwargs)  # type: ignore[attr-defined,unused-ignore]
    return task


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
