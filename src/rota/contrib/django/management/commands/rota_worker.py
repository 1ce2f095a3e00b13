"""``manage.py rota_worker``: run the worker of ``settings.ROTA`` until SIGTERM/SIGINT.

Options override ``ROTA["WORKER"]``. The first SIGTERM/SIGINT stops gracefully (running jobs
get the grace period, the rest are released for another worker); a second forces, as with
``rota worker``. Exit code 0 after a graceful stop; a refused setting is one line on stderr
and exit code 1."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from rota._errors import RotaError
from rota._loop import run
from rota.cli._load import close_app
from rota.cli.worker import CLOSE_BOUND, _exit_now, use_eager_tasks
from rota.contrib.django import get_app
from rota.contrib.django._state import conf
from rota.runtime.worker import Worker

_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.INFO, 3: logging.DEBUG}


class Command(BaseCommand):
    help = "Run a rota worker for this project's tasks (settings.ROTA) until SIGTERM/SIGINT."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("-c", "--concurrency", type=int, help="jobs run at once")
        parser.add_argument("-q", "--queues", help="comma-separated queues (default: all of the app's tasks)")
        parser.add_argument("--lease", type=float, help="lease seconds")
        parser.add_argument("--grace", type=float, help="shutdown grace seconds")
        parser.add_argument("--no-scheduler", action="store_true", help="do not fire schedules here")

    def handle(self, *args: Any, **options: Any) -> None:
        settings = dict(conf().worker)
        for key in ("concurrency", "lease", "grace"):
            if options[key] is not None:
                settings[key] = options[key]
        if options["queues"] is not None:
            settings["queues"] = [q.strip() for q in options["queues"].split(",") if q.strip()]
        if options["no_scheduler"]:
            settings["scheduler"] = False
        _log_to_stderr(_LEVELS.get(options["verbosity"], logging.INFO))
        try:
            app = get_app()
            worker = app.worker(**settings)
        except RotaError as exc:
            raise CommandError(str(exc)) from None
        try:
            run(_serve(worker))  # on uvloop where installed, as `rota worker`
        except RotaError as exc:
            raise CommandError(str(exc)) from None


async def _serve(worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    use_eager_tasks(loop)

    def on_signal() -> None:
        worker.stop(force=worker.stopping)  # a second signal forces, as under `rota worker`

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    try:
        await worker.run()
    finally:
        await close_app(get_app(), timeout=CLOSE_BOUND)
        if any(not task.done() for task in worker.stranded):
            _exit_now(sys.exc_info()[1])


def _log_to_stderr(level: int) -> None:
    """rota's own log lines (start, stop, retries) on stderr, unless Django's LOGGING or the
    user already route them somewhere."""
    logger = logging.getLogger("rota")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
